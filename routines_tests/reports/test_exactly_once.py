"""Each e-mail is sent once: the compare-and-set claim between real processes, executions left `running` by a
dead worker, backfill confirmation, readable partition keys kept in sync with the definitions."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id
from sqlalchemy import select, update

from routines.database.engine import session_scope
from routines.files import FileStore
from routines.reports.backfills import CONFIRM_TAG, backfill_refusal
from routines.reports.config import ReportsConfig
from routines.reports.models import ReportDefinition, ReportExecution
from routines.reports.service import fail_stale_executions, run_execution
from routines.reports.stale import RunningExecution, find_stale
from routines_tests.helpers import apply_partition_requests


def _claim_and_send(
    url: str, store_root: str, report_id: int, run_key: str, run_id: str, barrier, results
) -> None:
    from routines.database.engine import get_engine

    barrier.wait(timeout=60)
    result = run_execution(
        get_engine(url), FileStore(store_root), report_id=report_id, run_key=run_key, trigger="schedule",
        day="2026-11-19", dagster_run_id=run_id, config=ReportsConfig(smtp_attempts=1),
    )  # fmt: skip
    results.put((run_id, result.already_done, result.status, result.not_sent_reason))


def test_concurrent_runs_of_one_execution_send_one_email(
    db_url, engine, make_report, smtp_for, smtp_server, tmp_path
):
    """Four processes run the same execution at the same instant (re-execution, retry, two daemons): exactly
    one e-mail reaches the SMTP server; the others send nothing and say why."""
    report_id = make_report(format="csv")
    smtp_for("BEG", smtp_server.port)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    run_key = f"report-{report_id}-20261119T110000Z"
    processes = [
        context.Process(
            target=_claim_and_send,
            args=(db_url, str(tmp_path / "files"), report_id, run_key, f"run-{i}", barrier, results),
        )
        for i in range(4)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert len(smtp_server.messages) == 1
    sent = [o for o in outcomes if not o[1]]
    assert len(sent) == 1
    skipped = [o for o in outcomes if o[1]]
    assert all(o[3].startswith("nada enviado: a execução") for o in skipped)
    with session_scope(engine) as session:
        [row] = session.scalars(select(ReportExecution))
    assert row.status == "success" and row.dagster_run_id == sent[0][0]

    # a later re-execution of the same execution sends nothing either, and says so
    again = run_execution(
        engine, FileStore(tmp_path / "files"), report_id=report_id, run_key=run_key, dagster_run_id="run-9"
    )
    assert again.already_done and "já foi enviada (execução Dagster run-" in again.not_sent_reason
    assert len(smtp_server.messages) == 1


def test_stale_decision_compares_with_the_dagster_runs():
    now = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
    running = [
        RunningExecution(1, "dead", now - timedelta(minutes=5)),
        RunningExecution(2, "alive", now - timedelta(hours=30)),
        RunningExecution(3, "gone", now),
        RunningExecution(4, None, now - timedelta(hours=7)),
        RunningExecution(5, None, now - timedelta(hours=1)),
    ]
    statuses = {"dead": "FAILURE", "alive": "STARTED", "gone": None}
    stale = find_stale(running, statuses, now, timedelta(hours=6))
    assert [s.execution_id for s in stale] == [1, 3, 4]
    assert "terminou (FAILURE) sem registrar o resultado" in stale[0].reason
    assert "não existe mais" in stale[1].reason and "fora do Dagster há mais de 6 h" in stale[2].reason


def test_executions_left_running_by_a_dead_worker_are_failed_and_notified_once(
    db_url, engine, make_report, tmp_path
):
    from routines.defs.reports.sensors import build_report_watchdog_sensor
    from routines.lib.resources import DatabaseResource
    from routines.notifications.models import Notification

    report_id = make_report()

    @dg.asset
    def crashing_worker():
        raise RuntimeError("worker died")

    with dg.instance_for_test() as instance:
        dead = dg.materialize([crashing_worker], instance=instance, raise_on_error=False).run_id
        alive = instance.add_run(
            dg.DagsterRun(
                job_name="reports_job", run_id=make_new_run_id(), status=dg.DagsterRunStatus.STARTED
            )
        ).run_id
        now = datetime.now(UTC)
        with session_scope(engine) as session:
            for key, run_id in (("dead", dead), ("alive", alive), ("gone", "no-such-run")):
                session.add(ReportExecution(report_id=report_id, run_key=key, scheduled_for=now, partition_day="2026-11-19",
                                            trigger="schedule", status="running", started_at=now, dagster_run_id=run_id,
                                            truncated=False))  # fmt: skip
        sensor = build_report_watchdog_sensor(clock=lambda: now)
        context = dg.build_sensor_context(
            instance=instance, resources={"database": DatabaseResource(url=db_url)}
        )
        result = sensor.evaluate_tick(context)
        assert "execuções abandonadas marcadas como falha e notificadas" in result.skip_message
        again = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources={"database": DatabaseResource(url=db_url)})
        )
        assert "nenhuma abandonada" in again.skip_message
    with session_scope(engine) as session:
        rows = {r.run_key: r for r in session.scalars(select(ReportExecution))}
        notes = list(session.scalars(select(Notification)))
    assert rows["dead"].status == "failed" and "terminou (FAILURE)" in rows["dead"].error
    assert rows["gone"].status == "failed" and "não existe mais" in rows["gone"].error
    assert rows["alive"].status == "running"  # its run is still going
    assert {n.run_id for n in notes} == {dead, "no-such-run"}
    assert all("Resumo de faturas" in n.message for n in notes)


def test_fail_stale_leaves_a_row_its_run_finished_meanwhile(engine, make_report):
    report_id = make_report()
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.add(ReportExecution(report_id=report_id, run_key="k", scheduled_for=now, partition_day="2026-11-19",
                                    trigger="schedule", status="running", started_at=now, dagster_run_id="r1",
                                    truncated=False))  # fmt: skip
    running = [RunningExecution(1, "r1", now)]
    with session_scope(engine) as session:  # the run records success just before the watchdog acts
        session.execute(update(ReportExecution).values(status="success"))
    assert fail_stale_executions(engine, {"r1": "SUCCESS"}, now, running=running) == []


def test_backfill_decision():
    assert backfill_refusal(10, None, 10) is None
    assert "backfill de 11 relatórios (mais de 10) sem confirmação" in backfill_refusal(11, None, 10)
    assert f"{CONFIRM_TAG}=11" in backfill_refusal(11, "12", 10)
    assert backfill_refusal(11, " 11 ", 10) is None


def _schedule_tick(instance, db_url, now):
    from routines.defs.reports.assets import reports, reports_job
    from routines.defs.reports.sensors import build_report_schedule_sensor
    from routines.lib.resources import DatabaseResource, FileStoreResource

    sensor = build_report_schedule_sensor(reports_job, clock=lambda: now)
    resources = {"database": DatabaseResource(url=db_url)}
    definitions = dg.Definitions(assets=[reports], jobs=[reports_job], sensors=[sensor],
                                 resources={**resources, "file_store": FileStoreResource()})  # fmt: skip
    context = dg.build_sensor_context(instance=instance, resources=resources, definitions=definitions)
    result = sensor.evaluate_tick(context)
    apply_partition_requests(instance, result)
    return result


def test_partition_keys_are_readable_stable_and_follow_the_definitions(
    db_url, engine, make_report, companies
):
    from routines.defs.reports.partitions import REPORT_PARTITIONS_NAME

    first = make_report(name="Resumo diário")
    second = make_report(name="Resumo Diario!")  # same slug: numbered
    acme = make_report("ACME", name="Resumo diário", recipients_to=["x@acme.com.br"], recipients_cc=[])
    with session_scope(engine) as session:  # a row written by the business application, without slug
        session.add(ReportDefinition(company_id=companies["BEG"], name="Faturas do mês", query_sql="select 1",
                                     format="csv", recipients_to=["a@beg.com.br"], recipients_cc=[], cron="0 8 * * *",
                                     timezone="America/Sao_Paulo", active=True))  # fmt: skip
    with dg.instance_for_test() as instance:
        now = datetime.now(UTC)
        _schedule_tick(instance, db_url, now)
        assert sorted(instance.get_dynamic_partitions(REPORT_PARTITIONS_NAME)) == [
            "ACME-resumo-diario", "BEG-faturas-do-mes", "BEG-resumo-diario", "BEG-resumo-diario-2"
        ]  # fmt: skip
        with session_scope(engine) as session:  # renaming keeps the key; disabling and deleting remove it
            session.get(ReportDefinition, first).name = "Resumo do dia"
            session.get(ReportDefinition, second).active = False
            session.delete(session.get(ReportDefinition, acme))
        _schedule_tick(instance, db_url, now + timedelta(minutes=1))
        assert sorted(instance.get_dynamic_partitions(REPORT_PARTITIONS_NAME)) == [
            "BEG-faturas-do-mes", "BEG-resumo-diario"
        ]  # fmt: skip


# Dagster 1.13's own PartitionBackfill.from_asset_partitions calls AssetSelection.sources (its deprecation is
# Dagster's to fix; this project calls neither).
@pytest.mark.filterwarnings("ignore:Function `AssetSelection.sources` is deprecated:DeprecationWarning")
def test_unconfirmed_large_backfill_sends_nothing_and_is_canceled(
    db_url, engine, make_report, smtp_for, smtp_server, file_store_root, monkeypatch
):
    """A real asset backfill of the reports asset (as the UI creates it) over 3 days of a report, with the
    threshold at 2: its runs refuse and the backfill is canceled; confirmed with the count, it sends."""
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

    from routines.defs.reports.assets import reports
    from routines.defs.reports.partitions import partition_key
    from routines.lib.resources import DatabaseResource, FileStoreResource

    monkeypatch.setenv("ROUTINES_REPORTS_BACKFILL_CONFIRM_ABOVE", "2")
    make_report(name="Resumo diário", format="csv")
    smtp_for("BEG", smtp_server.port)
    resources = {
        "database": DatabaseResource(url=db_url),
        "file_store": FileStoreResource(root=str(file_store_root)),
    }
    with dg.instance_for_test() as instance:
        _schedule_tick(instance, db_url, datetime.now(UTC))
        keys = [partition_key("BEG-resumo-diario", day) for day in ("2026-11-17", "2026-11-18", "2026-11-19")]
        graph = dg.Definitions(assets=[reports], resources=resources).resolve_asset_graph()

        def backfill(backfill_id, tags):
            record = PartitionBackfill.from_asset_partitions(
                backfill_id=backfill_id, asset_graph=graph, partition_names=keys, asset_selection=[reports.key],
                backfill_timestamp=time.time(), tags=tags, dynamic_partitions_store=instance, all_partitions=False,
                title=None, description=None, run_config=None,
            )  # fmt: skip
            instance.add_backfill(record)
            # the runs the backfill daemon creates: one per partition, tagged with the backfill and its tags
            return [
                dg.materialize([reports], partition_key=key, instance=instance, resources=resources,
                               tags={"dagster/backfill": backfill_id, **tags}, raise_on_error=False)
                for key in keys
            ]  # fmt: skip

        refused = backfill("unconfirmed", {})
        assert not any(r.success for r in refused)
        failure = next(e for e in refused[0].all_events if e.is_step_failure)
        assert (
            "backfill de 3 relatórios (mais de 2) sem confirmação" in failure.step_failure_data.error.message
        )
        assert f"{CONFIRM_TAG}=3" in failure.step_failure_data.error.message
        assert instance.get_backfill("unconfirmed").status == BulkActionStatus.CANCELING
        assert smtp_server.messages == []

        assert not any(r.success for r in backfill("wrong-count", {CONFIRM_TAG: "30"}))
        assert smtp_server.messages == []
        confirmed = backfill("confirmed", {CONFIRM_TAG: "3"})
        assert all(r.success for r in confirmed)
        assert len(smtp_server.messages) == 3
