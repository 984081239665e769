"""The task life cycle: refusal of bad payloads at creation, compare-and-set claims bounded by the pool's slots,
throttled progress, failures told to the user once, cancel (with the Dagster run) and retry."""

from __future__ import annotations

import dagster as dg
import pytest
from sqlalchemy import func, select

from routines.cli import main
from routines.database.engine import session_scope
from routines.defs.exports.jobs import RUN_KEY_TAG, TASK_TAG
from routines.defs.exports.sensors import export_task_run_cancellations, export_task_run_failures
from routines.defs.notifications.sensors import notify_failed_runs
from routines.exports import service
from routines.exports.config import ExportsConfig
from routines.exports.models import ExportTask
from routines.exports.payloads import PayloadError
from routines.lib.resources import DatabaseResource
from routines.notifications.models import Notification
from routines_tests.exports.conftest import T0, insert_task, run_pending


def notifications_of(engine, user_id):
    with session_scope(engine) as session:
        return [
            (n.kind, n.task_id)
            for n in session.scalars(
                select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
            )
        ]


@pytest.mark.parametrize(
    ("task_type", "payload", "message"),
    [
        ("invoices_month", '{"month": "2025-13"}', "payload.month: expected a month as YYYY-MM"),
        ("invoices_month", '{"mes": "2025-06"}', "payload.mes: unknown field (known: month)"),
        ("invoices_month", '{"month": "2025-06"', "payload: invalid JSON (line 1, column 20)"),
        (
            "b3_quotes",
            '{"tickers": [], "start": "2025-01-02", "end": "2025-01-03"}',
            "payload.tickers: List should have at least 1 item",
        ),
        (
            "b3_quotes",
            '{"tickers": ["PETR4"], "start": "2025-02-01", "end": "2025-01-03"}',
            "end 2025-01-03 is before start 2025-02-01",
        ),
        (
            "cvm_fund_history",
            '{"funds": ["12.345.678/0001-00"], "start": "2025-01-01", "end": "2025-01-31"}',
            "payload.funds.0: invalid CNPJ '12.345.678/0001-00'",
        ),
        (
            "report",
            '{"report_id": 999, "day": "2025-07-01"}',
            "payload.report_id: no report with id 999 in this company",
        ),
        (
            "report",
            '{"report_id": 1, "day": "2025-07-01", "format": "docx"}',
            "payload.format: Input should be 'xlsx', 'pdf' or 'csv'",
        ),
        ("import_clients", "{}", "give the CSV in csv_text or a file store key in file_key"),
        (
            "send_email",
            '{"to": ["not-an-address"], "subject": "x", "body": "y"}',
            "payload.to.0: e-mail 'not-an-address'",
        ),
        (
            "send_email",
            '{"to": ["a@b.com"], "subject": "x", "body": "y", "attach_task_id": 77}',
            "payload.attach_task_id: no task 77 in this company",
        ),
        ("export_plano_acao", "{}", "task_type 'export_plano_acao': expected one of invoices_month"),
    ],
)
def test_a_bad_payload_is_refused_at_creation_naming_the_field(
    engine, people, capsys, task_type, payload, message
):
    status = main(["exports", "request", task_type, "--user", "bruno.lima@beg.com.br", "--payload", payload])
    error = capsys.readouterr().err
    assert status == 2, error
    assert message in error and len(error.strip().splitlines()) == 1
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(ExportTask)) == 0


def test_creation_validates_and_normalizes(engine, people):
    with session_scope(engine) as session:
        task = service.create_task(
            session, task_type="b3_quotes", user="bruno.lima@beg.com.br",
            payload={"tickers": [" petr4 "], "start": "2025-01-02", "end": "2025-01-03"}, priority=5,
        )  # fmt: skip
        assert task.payload == {"tickers": ["PETR4"], "start": "2025-01-02", "end": "2025-01-03"}
        assert (task.company_id, task.priority, task.status) == (people["BEG"], 5, "pending")
        with pytest.raises(PayloadError) as error:
            service.create_task(
                session, task_type="invoices_month", user=people["bruno"], payload={"month": 6}
            )
        assert error.value.field == "payload.month"
    with session_scope(engine) as session:
        from routines.companies.users import disable_user

        disable_user(session, "carla.dias@beg.com.br")
    with pytest.raises(service.UserError, match="is disabled"), session_scope(engine) as session:
        service.create_task(
            session, task_type="invoices_month", user="carla.dias@beg.com.br", payload={"month": "2025-06"}
        )


def test_an_inserted_bad_payload_fails_when_it_runs_and_tells_the_user_once(
    engine, db_url, people, file_store_root, tmp_path
):
    task_id = insert_task(engine, "invoices_month", people["bruno"], people["BEG"], {"month": "junho"})
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        (result,) = run_pending(instance, db_url, file_store_root).results
        assert not result.success
        failure_context = failure_sensor_context(instance, result.run_id, db_url)
        export_task_run_failures(failure_context)  # the run-status sensors see the failed run too
        notify_failed_runs(failure_context)
    with session_scope(engine) as session:
        task = session.get(ExportTask, task_id)
        assert task.status == "failed" and task.slot is None and task.finished_at is not None
        assert task.error_message == "payload.month: expected a month as YYYY-MM (e.g. 2025-06), got 'junho'"
    assert notifications_of(engine, people["bruno"]) == [("task_failed", task_id)]
    with session_scope(engine) as session:  # and nobody else (the admins are not told of a user's task)
        assert session.scalar(select(func.count()).select_from(Notification)) == 1


def failure_sensor_context(instance, run_id, db_url, status=dg.DagsterEventType.RUN_FAILURE):
    event = next(
        e.dagster_event
        for e in instance.all_logs(run_id)
        if e.dagster_event and e.dagster_event.event_type == status
    )
    context = dg.build_run_status_sensor_context(
        sensor_name="sensor", dagster_event=event, dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id), resources={"database": DatabaseResource(url=db_url)},
    )  # fmt: skip
    return context.for_run_failure() if status == dg.DagsterEventType.RUN_FAILURE else context


def test_a_data_failure_is_one_line_and_retry_runs_a_new_attempt(
    engine, db_url, people, invoices, file_store_root, tmp_path, capsys
):
    task_id = insert_task(engine, "approval_letter", people["bruno"], people["BEG"], {"month": "2025-01"})
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        (failed,) = run_pending(instance, db_url, file_store_root).results
        assert not failed.success
        with session_scope(engine) as session:
            task = session.get(ExportTask, task_id)
            assert task.error_message == "nenhuma fatura aprovada em 01/2025 para BEG Telecomunicações Ltda."
        assert main(["exports", "retry", str(task_id)]) == 0
        assert main(["exports", "retry", str(task_id)]) == 2  # pending now: nothing to retry
        assert "only failed or cancelled tasks can be retried" in capsys.readouterr().err
        with session_scope(engine) as session:  # the data arrives: June has approved invoices
            session.get(ExportTask, task_id).payload = {"month": "2025-06"}
        ran = run_pending(instance, db_url, file_store_root)
        assert [r.run_key for r in ran.run_requests] == [f"export-{task_id}-2"]  # a new attempt, a new run
        assert ran.results[0].success
    with session_scope(engine) as session:
        task = session.get(ExportTask, task_id)
        assert (task.status, task.attempts, task.error_message) == ("completed", 2, None)
    assert notifications_of(engine, people["bruno"]) == [("task_failed", task_id), ("file_ready", task_id)]


def test_claims_are_compare_and_set_and_bounded_by_the_slots(engine, people):
    ids = [
        insert_task(engine, "invoices_month", people["bruno"], people["BEG"], {"month": "2025-06"})
        for _ in range(3)
    ]
    with session_scope(engine) as session:
        plans = service.request_pending(session, T0, ExportsConfig())
    keys = {plan.task_id: plan.run_key for plan in plans}
    first = service.claim_task(engine, ids[0], run_id="run-a", run_key=keys[ids[0]], slots=2)
    assert (first.state, first.slot) == ("claimed", 0)
    # a second run for the same task (a duplicate, or a run of another key) gets nothing
    assert service.claim_task(engine, ids[0], run_id="run-b", run_key=keys[ids[0]], slots=2).state == "skip"
    assert service.claim_task(engine, ids[0], run_id="run-c", run_key="export-x-1", slots=2).state == "skip"
    assert service.claim_task(engine, ids[1], run_id="run-d", run_key=keys[ids[1]], slots=2).slot == 1
    third = service.claim_task(engine, ids[2], run_id="run-e", run_key=keys[ids[2]], slots=2)
    assert third.state == "wait"  # both slots held: the pool's limit is never exceeded
    service.fail_task(engine, ids[0], "x", run_id="run-a")
    assert service.claim_task(engine, ids[2], run_id="run-e", run_key=keys[ids[2]], slots=2).slot == 0
    # Dagster's run retry of run-d (tagged with its parent) takes the task over; another run does not
    assert (
        service.claim_task(
            engine, ids[1], run_id="run-f", run_key=keys[ids[1]], slots=2, previous_run_id="zzz"
        ).state
        == "skip"
    )
    taken = service.claim_task(
        engine, ids[1], run_id="run-g", run_key=keys[ids[1]], slots=2, previous_run_id="run-d"
    )
    assert (taken.state, taken.slot) == ("claimed", 1)
    with session_scope(engine) as session:
        assert session.get(ExportTask, ids[1]).dagster_run_id == "run-g"


def test_progress_writes_are_throttled_and_notice_a_cancel(engine, people):
    task_id = insert_task(engine, "invoices_month", people["bruno"], people["BEG"], {"month": "2025-06"})
    with session_scope(engine) as session:
        (plan,) = service.request_pending(session, T0, ExportsConfig())
    service.claim_task(engine, task_id, run_id="r1", run_key=plan.run_key, slots=5)
    now = [0.0]
    lines = []
    reporter = service.ProgressReporter(
        engine, task_id, "r1", interval=0.5, log=lines.append, clock=lambda: now[0]
    )
    for step in range(1, 1001):  # 1,000 calls over 2 seconds
        now[0] = step * 0.002
        reporter(step, 1000, f"{step} linhas")
    assert reporter.writes == 4  # at most one write each 0.5 s
    with session_scope(engine) as session:
        task = session.get(ExportTask, task_id)
        assert (task.progress, task.progress_message) == (reporter.percent, reporter.message)
        assert 75 <= task.progress <= 99
        service.cancel_task(session, task_id)
    now[0] += 1
    with pytest.raises(service.TaskCancelled, match="is cancelled"):
        reporter(1000, 1000, "fim")
    assert any("%" in line for line in lines)


def test_cancel_while_running_cancels_the_dagster_run_and_keeps_no_file(
    engine, db_url, people, invoices, file_store_root, tmp_path, monkeypatch
):
    """A person cancels while the export writes its rows (the cancel lands between two progress writes)."""
    task_id = insert_task(engine, "invoices_month", people["bruno"], people["BEG"], {"month": "2025-06"})
    write = service.ProgressReporter._write

    def cancel_then_write(self, percent, message):
        if percent >= 5:
            with session_scope(engine) as session:
                service.cancel_task(session, task_id)
        write(self, percent, message)

    monkeypatch.setattr(service.ProgressReporter, "_write", cancel_then_write)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        ran = run_pending(instance, db_url, file_store_root)
        run = instance.get_run_by_id(ran.results[0].run_id)
        assert run.status == dg.DagsterRunStatus.CANCELED
        with session_scope(engine) as session:
            task = session.get(ExportTask, task_id)
            assert (task.status, task.slot, task.file_key, task.run_cancel_requested) == (
                "cancelled",
                None,
                None,
                True,
            )
        monkeypatch.setattr(service.ProgressReporter, "_write", write)
        # the sensor's next tick finds the run already canceled and clears the request
        assert run_pending(instance, db_url, file_store_root).run_requests == []
        export_task_run_cancellations(
            failure_sensor_context(instance, run.run_id, db_url, dg.DagsterEventType.RUN_CANCELED)
        )
    with session_scope(engine) as session:
        task = session.get(ExportTask, task_id)
        assert task.status == "cancelled" and not task.run_cancel_requested
    assert not list(file_store_root.glob("task_files/**/*.*"))
    assert notifications_of(engine, people["bruno"]) == []  # the user cancelled it: nothing to tell


def test_a_run_that_dies_fails_its_task_unless_dagster_retries_it(
    engine, db_url, people, file_store_root, tmp_path
):
    task_id = insert_task(engine, "invoices_month", people["bruno"], people["BEG"], {"month": "2025-06"})
    with session_scope(engine) as session:
        (plan,) = service.request_pending(session, T0, ExportsConfig())

    @dg.op
    def killed():
        raise RuntimeError("processo encerrado (SIGKILL)")

    @dg.job(name="export_task_job")
    def dying_job():
        killed()

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        tags = {TASK_TAG: str(task_id), RUN_KEY_TAG: plan.run_key}
        first = dying_job.execute_in_process(
            instance=instance, tags={**tags, "dagster/will_retry": "true"}, raise_on_error=False
        )
        service.claim_task(engine, task_id, run_id=first.run_id, run_key=plan.run_key, slots=5)
        export_task_run_failures(failure_sensor_context(instance, first.run_id, db_url))
        with session_scope(engine) as session:
            assert session.get(ExportTask, task_id).status == "processing"  # the retry will take it over
        retry = dying_job.execute_in_process(
            instance=instance, tags={**tags, "dagster/parent_run_id": first.run_id, "dagster/root_run_id": first.run_id},
            raise_on_error=False,
        )  # fmt: skip
        service.claim_task(
            engine, task_id, run_id=retry.run_id, run_key=plan.run_key, slots=5, previous_run_id=first.run_id
        )
        context = failure_sensor_context(instance, retry.run_id, db_url)
        export_task_run_failures(context)
        export_task_run_failures(context)
    with session_scope(engine) as session:
        task = session.get(ExportTask, task_id)
        assert task.status == "failed" and "processo encerrado (SIGKILL)" in task.error_message
    assert notifications_of(engine, people["bruno"]) == [("task_failed", task_id)]


def test_cancel_and_retry_refuse_what_they_cannot_do(engine, people, capsys):
    task_id = insert_task(engine, "invoices_month", people["bruno"], people["BEG"], {"month": "2025-06"})
    assert main(["exports", "cancel", str(task_id)]) == 0
    assert "cancelled" in capsys.readouterr().out
    assert main(["exports", "cancel", str(task_id)]) == 2
    assert "only pending or processing tasks can be cancelled" in capsys.readouterr().err
    assert main(["exports", "retry", "999"]) == 2
    assert "no export task with id 999" in capsys.readouterr().err
    assert main(["exports", "retry", str(task_id)]) == 0
    with session_scope(engine) as session:
        assert session.get(ExportTask, task_id).status == "pending"


def test_a_run_failed_from_outside_is_left_to_dagster_s_retry(engine, db_url, people, tmp_path):
    """A failed run the instance's run retries will re-execute (the `dagster/will_retry` decision, taken as the
    retry daemon takes it when the tag is not there yet) leaves its task to the retry run."""
    task_id = insert_task(engine, "invoices_month", people["bruno"], people["BEG"], {"month": "2025-06"})
    with session_scope(engine) as session:
        (plan,) = service.request_pending(session, T0, ExportsConfig())

    @dg.op
    def never_started():
        raise RuntimeError("This run has been marked as failed from outside the execution context.")

    @dg.job(name="export_task_job")
    def monitored_job():
        never_started()

    overrides = {"run_retries": {"enabled": True, "max_retries": 2}}
    with dg.instance_for_test(temp_dir=str(tmp_path), overrides=overrides) as instance:
        tags = {TASK_TAG: str(task_id), RUN_KEY_TAG: plan.run_key}
        failed = monitored_job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
        export_task_run_failures(failure_sensor_context(instance, failed.run_id, db_url))
        assert instance.get_run_by_id(failed.run_id).tags.get("dagster/will_retry") == "true"
    with session_scope(engine) as session:
        assert session.get(ExportTask, task_id).status == "pending"  # the retry run will claim it
