"""Dagster level: the sensor evaluated tick by tick on a real instance, runs materialized from its run
requests (as the daemon launches them), run-now from the business application and from the UI."""

import io
import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import openpyxl
import pypdf
import pytest
from sqlalchemy import select, update

from routines.database.engine import session_scope
from routines.defs.reports.assets import reports, reports_job
from routines.defs.reports.partitions import REPORT_PARTITIONS_NAME, TRIGGER_TAG, partition_key
from routines.defs.reports.sensors import build_report_schedule_sensor
from routines.lib.resources import DatabaseResource, FileStoreResource
from routines.reports.demo import DEMO_REPORT_NAME, seed_demo
from routines.reports.models import ReportDefinition, ReportExecution, SmtpSettings
from routines.reports.service import request_run
from routines_tests.helpers import load_code_location

SP = ZoneInfo("America/Sao_Paulo")


def sp(*args) -> datetime:
    return datetime(*args, tzinfo=SP)


@pytest.fixture
def demo(engine, companies, smtp_server):
    """The demo reports, their SMTP settings pointed at the loopback server, due on Thu 19 Nov 2026 08:00."""
    with session_scope(engine) as session:
        assert seed_demo(session) == 4
        assert seed_demo(session) == 0  # idempotent
        session.execute(update(SmtpSettings).values(port=smtp_server.port))
        session.execute(update(ReportDefinition).values(next_run_at=sp(2026, 11, 19, 8, 0)))
        return {d.company.code: d.id for d in session.scalars(select(ReportDefinition))}


def tick(instance, db_url, now, cursor=None):
    sensor = build_report_schedule_sensor(reports_job, clock=lambda: now)
    resources = {"database": DatabaseResource(url=db_url)}
    definitions = dg.Definitions(
        assets=[reports],
        jobs=[reports_job],
        sensors=[sensor],
        resources={**resources, "file_store": FileStoreResource()},
    )
    context = dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        cursor=cursor,
        resources=resources,
        definitions=definitions,
    )
    result = sensor.evaluate_tick(context)
    for request in result.dynamic_partitions_requests or []:  # what the daemon does before launching runs
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def launch(instance, db_url, file_store_root, run_request=None, partition=None):
    return dg.materialize(
        [reports],
        partition_key=run_request.partition_key if run_request else partition,
        tags=run_request.tags if run_request else None,
        instance=instance,
        resources={
            "database": DatabaseResource(url=db_url),
            "file_store": FileStoreResource(root=str(file_store_root)),
        },
        raise_on_error=False,
    )


def attachments(received):
    return {part.get_filename().rsplit(".", 1)[1]: part.get_payload(decode=True)
            for part in received.message.iter_attachments()}  # fmt: skip


def test_demo_report_is_emailed_on_schedule_and_on_run_now(
    db_url, engine, demo, smtp_server, file_store_root
):
    with dg.instance_for_test() as instance:
        # Thursday 19 Nov 2026, 08:00:30: both demo reports are due
        result = tick(instance, db_url, sp(2026, 11, 19, 8, 0, 30))
        assert sorted(instance.get_dynamic_partitions(REPORT_PARTITIONS_NAME)) == [
            "ACME-resumo-diario-de-demonstracao", "BEG-resumo-diario-de-demonstracao"
        ]  # fmt: skip
        assert sorted(r.run_key for r in result.run_requests) == sorted(
            f"report-{i}-20261119T110000Z" for i in demo.values()
        )
        assert result.cursor == sp(2026, 11, 19, 8, 0, 30).isoformat()
        for run_request in result.run_requests:
            assert run_request.partition_key == partition_key(
                run_request.partition_key.split("|")[1], "2026-11-19"
            )
            assert run_request.partition_key.split("|")[1].endswith("-resumo-diario-de-demonstracao")
            outcome = launch(instance, db_url, file_store_root, run_request)
            assert outcome.success

        assert len(smtp_server.messages) == 2
        by_company = {m.rcpt_tos[0].split("@")[1].split(".")[0]: m for m in smtp_server.messages}
        beg = by_company["beg"]
        assert beg.rcpt_tos == ["financeiro@beg.example.com", "operacoes@beg.example.com"]
        assert beg.mail_from == "relatorios@beg.example.com"
        assert beg.message["Subject"] == f"{DEMO_REPORT_NAME} - BEG Telecomunicações Ltda. - 19/11/2026"
        files = attachments(beg)
        assert set(files) == {"xlsx", "pdf"}
        rows = [
            [c.value for c in r]
            for r in openpyxl.load_workbook(io.BytesIO(files["xlsx"]))["Relatório"].iter_rows()
        ]
        assert rows[0] == ["Código", "Descrição", "Quantidade", "Valor total", "Empresa"]
        assert rows[1] == [1, "Faturas recebidas", 12, 15230.45, "BEG Telecomunicações Ltda."]
        assert len(rows) == 4
        text = pypdf.PdfReader(io.BytesIO(files["pdf"])).pages[0].extract_text()
        assert "Período: 19/11/2026" in text and "R$ 15.230,45" in text and "Faturas enviadas ao SAT" in text

        with session_scope(engine) as session:
            rows = list(session.scalars(select(ReportExecution).order_by(ReportExecution.id)))
        assert [(r.status, r.trigger, r.partition_day) for r in rows] == [
            ("success", "schedule", "2026-11-19")
        ] * 2
        assert all(r.message_id and r.file_sha256 and r.dagster_run_id for r in rows)
        materialization = instance.get_latest_materialization_event(
            dg.AssetKey("reports")
        ).asset_materialization
        metadata = materialization.metadata
        assert metadata["rows"].value == 3
        assert metadata["file_sha256"].value in {r.file_sha256 for r in rows}
        assert "| Código | Descrição |" in metadata["preview"].value

        # daemon restart: a new evaluation (new cursor) requests nothing new, nothing is sent twice
        again = tick(instance, db_url, sp(2026, 11, 19, 8, 1), cursor=result.cursor)
        assert again.run_requests == []
        # Friday 20 Nov 2026 is a national holiday (Consciência Negra): nothing due
        assert tick(instance, db_url, sp(2026, 11, 20, 8, 0, 30)).run_requests == []
        with session_scope(engine) as session:
            assert session.get(ReportDefinition, demo["BEG"]).next_run_at == sp(2026, 11, 23, 8, 0)

        # run now from the business application: a request row, picked up on the next tick
        with session_scope(engine) as session:
            request_id = request_run(session, demo["BEG"], requested_by="maria").id
        manual = tick(instance, db_url, sp(2026, 11, 20, 10, 0))
        [run_request] = manual.run_requests
        assert run_request.run_key == f"report-{demo['BEG']}-request-{request_id}"
        assert run_request.tags[TRIGGER_TAG] == "manual"
        assert launch(instance, db_url, file_store_root, run_request).success

        # run now from the Dagster UI: materialize a partition
        ui = launch(
            instance,
            db_url,
            file_store_root,
            partition=partition_key("ACME-resumo-diario-de-demonstracao", "2026-11-20"),
        )
        assert ui.success
        assert len(smtp_server.messages) == 4
        with session_scope(engine) as session:
            latest = list(session.scalars(select(ReportExecution).order_by(ReportExecution.id)))[-2:]
        assert [(r.trigger, r.status, r.report_id) for r in latest] == [
            ("manual", "success", demo["BEG"]), ("ui", "success", demo["ACME"])
        ]  # fmt: skip
        assert latest[1].dagster_run_id == ui.run_id


def test_failed_run_is_recorded_and_the_dagster_run_fails_clearly(db_url, engine, demo, file_store_root):
    with session_scope(engine) as session:
        session.execute(update(SmtpSettings).values(port=1))  # nobody listens: SMTP down
    with dg.instance_for_test() as instance:
        import os

        os.environ["ROUTINES_REPORTS_SMTP_ATTEMPTS"] = "2"
        try:
            result = tick(instance, db_url, sp(2026, 11, 19, 8, 0, 30))
            outcome = launch(instance, db_url, file_store_root, result.run_requests[0])
        finally:
            del os.environ["ROUTINES_REPORTS_SMTP_ATTEMPTS"]
        assert not outcome.success
        failure = next(e for e in outcome.all_events if e.is_step_failure)
        assert (
            "e-mail not sent via 127.0.0.1:1 (none) after 2 attempts"
            in failure.step_failure_data.error.message
        )
    with session_scope(engine) as session:
        row = session.scalar(select(ReportExecution).where(ReportExecution.status == "failed"))
        assert row is not None and "after 2 attempts" in row.error and row.trigger == "schedule"


def test_code_location_loads():
    repository = load_code_location().get_repository_def()
    assert (
        repository.get_sensor_def("report_schedule_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    )
    assert repository.get_job("reports_job").partitions_def is not None


def test_sensor_skips_with_a_clear_reason_on_an_unmigrated_database(sqlite_url):
    sqlite3.connect(sqlite_url.removeprefix("sqlite:///")).close()  # an empty database file
    with dg.instance_for_test() as instance:
        result = tick(instance, sqlite_url, sp(2026, 11, 19, 8))
    assert result.run_requests == []
    assert "run `routines db upgrade`" in result.skip_message
