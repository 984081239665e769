"""On a real deployment (dagster-daemon, code server, one process per run): tasks the business application
inserts are run by the sensor; cancelling a queued task cancels its queued run; cancelling a processing task
cancels its running run; a retry then completes it with an exact file; a failed task notifies its user."""

from __future__ import annotations

import socket
import threading
from datetime import date

import dagster as dg
import openpyxl
import pytest
from sqlalchemy import insert, select

from routines.cli import main
from routines.database import migrate
from routines.database.engine import session_scope
from routines.exports.models import ExportTask
from routines.invoices.models import Client, InvoiceProcess, Operator
from routines.notifications.service import list_notifications
from routines.reports.service import set_smtp_settings
from routines_tests.exports.conftest import T0, insert_task, sha256
from routines_tests.exports.daemon import deployment

ROWS = 15_000  # long enough to be cancelled while it runs (progress is written every 1,000 rows)


def seed_month(engine, company_id: int, rows: int) -> None:
    with session_scope(engine) as session:
        operators = [Operator(code=f"D{i}", name=f"Operadora {i}", has_rpa=True) for i in range(10)]
        clients = [Client(company_id=company_id, name=f"Cliente {i:05d}") for i in range(rows // 10)]
        session.add_all(operators + clients)
        session.flush()
        session.execute(
            insert(InvoiceProcess),
            [{"billing_month": date(2025, 3, 1), "client_id": c.id, "operator_id": o.id, "status": "AGUARDANDO_APROVACAO",
              "download_attempts": 1, "created_at": T0, "updated_at": T0} for c in clients for o in operators],
        )  # fmt: skip


def task(engine, task_id: int) -> ExportTask:
    with session_scope(engine) as session:
        row = session.get(ExportTask, task_id)
        session.expunge(row)
        return row


def runs_of(instance, task_id: int):
    return instance.get_runs(filters=dg.RunsFilter(tags={"routines/export_task": str(task_id)}))


def stage(name, started=[]):  # noqa: B006 - timing of the stages, printed with -s
    import time

    started.append(time.monotonic())
    print(f"{name}: {started[-1] - started[0]:.1f} s")


@pytest.fixture
def db_url(postgres_schema_url, monkeypatch):
    """The business database of a production deployment: PostgreSQL (SQLite is covered by the in-process
    tests; one daemon run takes minutes on this machine)."""
    migrate.upgrade(postgres_schema_url)
    monkeypatch.setenv("ROUTINES_DATABASE_URL", postgres_schema_url)
    return postgres_schema_url


@pytest.fixture
def silent_smtp():
    """A TCP server on loopback that accepts SMTP connections and never says a word: (port, held connections)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], held
    server.close()
    for connection in held:
        connection.close()


def test_tasks_on_a_real_daemon(engine, db_url, people, tmp_path, file_store_root, monkeypatch, silent_smtp):
    silent_port, silent_connections = silent_smtp
    seed_month(engine, people["BEG"], ROWS)
    monkeypatch.setenv("ROUTINES_EXPORTS_PROGRESS_INTERVAL", "0")
    with deployment(tmp_path, db_url, file_store_root, ROUTINES_EXPORTS_PROGRESS_INTERVAL="0") as deploy:
        instance = deploy.instance()
        stage("# 1.")
        # 1. the pool is closed: the run of a new task waits in Dagster's queue; cancelling the task cancels it
        instance.event_log_storage.set_concurrency_slots("exports", 0)
        queued = insert_task(engine, "invoices_month", people["bruno"], people["BEG"], {"month": "2025-03"})
        run = deploy.wait_for(lambda: next(iter(runs_of(instance, queued)), None), 180, "the sensor's run")
        assert main(["exports", "cancel", str(queued)]) == 0
        deploy.wait_for(
            lambda: instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED,
            120,
            "the queued run canceled",
        )
        deploy.wait_for(lambda: not task(engine, queued).run_cancel_requested, 60, "the cancel handled")
        assert task(engine, queued).status == "cancelled" and task(engine, queued).started_at is None

        stage("# 2.")
        # 2. the pool opens; a processing task is cancelled: its running run ends canceled, no file is kept
        instance.event_log_storage.set_concurrency_slots("exports", 2)
        running = insert_task(
            engine, "invoices_month", people["bruno"], people["BEG"], {"month": "2025-03"}, priority=5
        )
        deploy.wait_for(
            lambda: task(engine, running).status == "processing", 180, "the task processing", every=0.05
        )
        assert main(["exports", "cancel", str(running)]) == 0
        (run,) = runs_of(instance, running)
        deploy.wait_for(lambda: instance.get_run_by_id(run.run_id).is_finished, 120, "the running run to end")
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
        cancelled = task(engine, running)
        assert (cancelled.status, cancelled.file_key, cancelled.slot) == ("cancelled", None, None)
        messages = [e.message for e in instance.all_logs(run.run_id) if e.dagster_event]
        assert f"tarefa {running} cancelada" in messages  # the op noticed it at its next progress write

        stage("# 3.")
        # 3. retry: a new attempt, a new run, completed with the exact file
        deploy.wait_for(lambda: not task(engine, running).run_cancel_requested, 60, "the cancel handled")
        assert main(["exports", "retry", str(running)]) == 0
        deploy.wait_for(
            lambda: task(engine, running).status in ("completed", "failed"), 300, "the retry to finish"
        )
        done = task(engine, running)
        assert done.status == "completed", done.error_message
        assert (done.attempts, done.dagster_run_key) == (2, f"export-{running}-2")
        data = (file_store_root / done.file_key).read_bytes()
        assert sha256(data) == done.file_sha256
        sheet = openpyxl.load_workbook(file_store_root / done.file_key, read_only=True)["Faturas"]
        assert (
            sheet.max_row == ROWS + 1
            and next(sheet.iter_rows(min_row=2, max_row=2, values_only=True))[1] == "03/2025"
        )

        stage("# 4.")
        # 4. a failing task: failed with its one-line error, its user told; and an e-mail stuck on an SMTP server
        #    that never answers, cancelled: no progress write notices it, so the sensor has the run terminated
        failing = insert_task(engine, "approval_letter", people["ana"], people["BEG"], {"month": "2025-01"})
        with session_scope(engine) as session:
            set_smtp_settings(session, people["BEG"], host="127.0.0.1", port=silent_port, security="none",
                              from_address="rel@beg.com.br", timeout_seconds=900)  # fmt: skip
        stuck = insert_task(
            engine,
            "send_email",
            people["ana"],
            people["BEG"],
            {"to": ["a@b.com.br"], "subject": "s", "body": "b"},
        )
        deploy.wait_for(lambda: task(engine, failing).status == "failed", 180, "the failing task")
        deploy.wait_for(lambda: task(engine, stuck).status == "processing", 180, "the e-mail task processing")
        # cancelled only once the op is blocked inside the SMTP conversation (past its last progress write)
        deploy.wait_for(lambda: bool(silent_connections), 180, "the e-mail task connected to the SMTP server")
        assert main(["exports", "cancel", str(stuck)]) == 0
        (run,) = runs_of(instance, stuck)
        deploy.wait_for(lambda: instance.get_run_by_id(run.run_id).is_finished, 120, "the stuck run to end")
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
        messages = [e.message for e in instance.all_logs(run.run_id) if e.dagster_event]
        assert "Sending run termination request." in messages  # the run launcher's terminate, from the sensor
        assert "nenhuma fatura aprovada em 01/2025" in task(engine, failing).error_message
        with session_scope(engine) as session:
            kinds = [(n.kind, n.task_id) for n in list_notifications(session, user_id=people["ana"])]
            assert kinds == [("task_failed", failing)]
            assert [(n.kind, n.task_id) for n in list_notifications(session, user_id=people["bruno"])] == [
                ("file_ready", running)
            ]
            assert session.scalar(select(ExportTask.status).where(ExportTask.id == queued)) == "cancelled"
    stage("end")
