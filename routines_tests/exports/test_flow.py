"""A task inserted as the business application does goes pending -> processing (progress rising) -> completed
through the sensor and the job on a real Dagster instance; its file is stored atomically under its key and is
exact; the user is told the file is ready."""

from __future__ import annotations

import io
import re
from datetime import date

import dagster as dg
import openpyxl
import pytest
from sqlalchemy import insert, select

from routines.companies.models import User
from routines.database.engine import session_scope
from routines.exports.models import ExportTask
from routines.exports.service import task_file_key
from routines.invoices.models import Client, InvoiceProcess, Operator
from routines.notifications.models import Notification
from routines.notifications.service import list_notifications
from routines_tests.exports.conftest import T0, insert_task, run_pending, sha256

CLIENTS, OPERATORS = 350, 10  # 3,500 processes: progress is reported every 1,000 rows written


@pytest.fixture
def big_month(engine, people):
    with session_scope(engine) as session:
        operators = [Operator(code=f"OP{i}", name=f"Operadora {i}", has_rpa=True) for i in range(OPERATORS)]
        clients = [Client(company_id=people["BEG"], name=f"Cliente {i:04d}") for i in range(CLIENTS)]
        session.add_all(operators + clients)
        session.flush()
        session.execute(
            insert(InvoiceProcess),
            [
                {"billing_month": date(2025, 5, 1), "client_id": c.id, "operator_id": o.id,
                 "status": "AGUARDANDO_APROVACAO", "download_attempts": 1, "file_sha256": f"{c.id:064x}",
                 "created_at": T0, "updated_at": T0}
                for c in clients
                for o in operators
            ],
        )  # fmt: skip
    return CLIENTS * OPERATORS


def test_an_inserted_task_runs_with_rising_progress_to_an_exact_file(
    engine, db_url, people, big_month, task_history, file_store_root, tmp_path
):
    task_id = insert_task(engine, "invoices_month", people["bruno"], people["BEG"], {"month": "2025-05"})
    with session_scope(engine) as session:
        task = session.get(ExportTask, task_id)  # the server defaults filled the rest
        assert (task.status, task.progress, task.priority, task.attempts) == ("pending", 0, 0, 0)
        assert task.created_at is not None and task.created_at.tzinfo is not None

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        ran = run_pending(instance, db_url, file_store_root)
        assert [r.run_key for r in ran.run_requests] == [f"export-{task_id}-1"]
        assert ran.run_requests[0].tags["dagster/priority"] == "0"
        (result,) = ran.results
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
        # a second tick requests nothing: the task is done
        assert run_pending(instance, db_url, file_store_root).run_requests == []

    history = task_history(task_id)
    assert history[0] == ("pending", 0) and history[-1] == ("completed", 100)
    processing = [progress for status, progress in history if status == "processing"]
    assert [status for status, _ in history] == ["pending"] * (len(history) - len(processing) - 1) + [
        "processing"
    ] * len(processing) + ["completed"]
    assert processing == sorted(processing) and len(set(processing)) >= 4  # 0, reading, 1,000s of rows...
    assert any(f"tarefa {task_id}: " in line and "%" in line for line in logs)  # progress in the run log

    with session_scope(engine) as session:
        task = session.get(ExportTask, task_id)
        assert task.status == "completed" and task.downloadable
        assert task.dagster_run_id == run.run_id and task.dagster_run_key == f"export-{task_id}-1"
        assert task.attempts == 1 and task.slot is None and task.error_message is None
        assert task.result["rows"] == big_month
        assert task.file_name == "faturas_2025-05_beg.xlsx"
        assert task.file_key == task_file_key(
            task.created_at, "invoices_month", task_id, task.file_sha256, "xlsx"
        )
        assert re.fullmatch(
            rf"task_files/\d{{4}}/\d{{2}}/invoices_month/{task_id}_[0-9a-f]{{8}}\.xlsx", task.file_key
        )
        data = (file_store_root / task.file_key).read_bytes()
        assert sha256(data) == task.file_sha256 and len(data) == task.file_size
        assert not list(file_store_root.rglob("*.part"))  # atomic write left no temporary file
        expected = {
            (p.id, c.name, o.code, p.status, p.file_sha256)
            for p, c, o in session.execute(
                select(InvoiceProcess, Client, Operator)
                .join(Client, InvoiceProcess.client_id == Client.id)
                .join(Operator, InvoiceProcess.operator_id == Operator.id)
            )
        }
        (notification,) = list_notifications(session, user_id=people["bruno"])
        assert (notification.kind, notification.task_id, notification.company_id) == (
            "file_ready",
            task_id,
            people["BEG"],
        )
        assert (
            "faturas_2025-05_beg.xlsx" in notification.message and "3.500 processos" in notification.message
        )
        assert session.get(User, people["bruno"]).company_id == people["BEG"]
        assert session.scalar(select(Notification).where(Notification.user_id != people["bruno"])) is None

    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True)["Faturas"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("Processo", "Competência", "Cliente", "CNPJ", "Operadora", "Situação")
    assert len(rows) == big_month + 1
    assert {(r[0], r[2], r[4], r[5], r[8]) for r in rows[1:]} == expected
    assert {r[1] for r in rows[1:]} == {"05/2025"}


def test_priority_orders_the_run_requests_and_becomes_dagster_run_priority(engine, db_url, people, tmp_path):
    low = insert_task(engine, "invoices_month", people["bruno"], people["BEG"], {"month": "2025-05"})
    high = insert_task(
        engine, "invoices_month", people["bruno"], people["BEG"], {"month": "2025-04"}, priority=10
    )
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        from routines.defs.exports.jobs import export_task_job
        from routines.defs.exports.sensors import build_export_tasks_sensor
        from routines.lib.resources import DatabaseResource

        sensor = build_export_tasks_sensor(export_task_job, clock=lambda: T0)
        context = dg.build_sensor_context(
            instance=instance, resources={"database": DatabaseResource(url=db_url)}
        )
        requests = sensor.evaluate_tick(context).run_requests
    assert [(r.tags["routines/export_task"], r.tags["dagster/priority"]) for r in requests] == [
        (str(high), "10"),
        (str(low), "0"),
    ]
