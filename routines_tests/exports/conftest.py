"""Fixtures of the exports tests: demo people, invoice processes with files, tasks inserted the way the business
application does (plain SQL INSERT), a trigger recording every change of a task row, and running pending tasks
through the sensor and the job on a real Dagster instance."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg
import pytest
from sqlalchemy import select, text

from routines.companies.demo import seed_demo
from routines.companies.models import Company, User
from routines.database.engine import session_scope
from routines.exports.models import ExportTask
from routines.files import FileStore
from routines.invoices.models import Client, ClientOperator, InvoiceProcess, Operator, ProcessTransition
from routines.lib.resources import DatabaseResource, FileStoreResource
from routines_tests.reports.conftest import smtp_server  # noqa: F401 - a real SMTP server (aiosmtpd)

# fixed instants (tests never depend on the clock)
T0 = datetime(2025, 7, 10, 13, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fast_progress(monkeypatch):
    """Every progress change is written (no throttling), so the trigger sees each step."""
    monkeypatch.setenv("ROUTINES_EXPORTS_PROGRESS_INTERVAL", "0")
    monkeypatch.setenv("ROUTINES_REPORTS_SMTP_BACKOFF", "0.01")


@pytest.fixture
def people(engine):
    """Demo companies and users; returns {"ana": id, "bruno": id, ..., "BEG": company id, "ACME": ...}."""
    with session_scope(engine) as session:
        seed_demo(session)
        ids = {user.email.split(".")[0]: user.id for user in session.scalars(select(User))}
        ids.update({company.code: company.id for company in session.scalars(select(Company))})
        return ids


@pytest.fixture
def store(file_store_root) -> FileStore:
    return FileStore(file_store_root)


def insert_task(
    engine, task_type: str, user_id: int, company_id: int, payload: dict, priority: int | None = None
):
    """What the business application does: a plain INSERT of the columns it knows, nothing else."""
    columns = "task_type, user_id, company_id, payload" + (", priority" if priority is not None else "")
    values = ":task_type, :user_id, :company_id, :payload" + (", :priority" if priority is not None else "")
    with engine.begin() as connection:
        params = {"task_type": task_type, "user_id": user_id, "company_id": company_id,
                  "payload": json.dumps(payload), "priority": priority}  # fmt: skip
        connection.execute(text(f"INSERT INTO export_tasks ({columns}) VALUES ({values})"), params)
        return connection.scalar(text("SELECT max(id) FROM export_tasks"))


@pytest.fixture
def task_history(engine):
    """A trigger logging (status, progress) of every INSERT and UPDATE of export_tasks, as another reader of
    the row would see it; returns history(task_id) -> [(status, progress), ...]."""
    statements = {
        "sqlite": [
            "CREATE TABLE task_history (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id INT, status TEXT, progress INT)",
            "CREATE TRIGGER task_history_insert AFTER INSERT ON export_tasks BEGIN "
            "INSERT INTO task_history (task_id, status, progress) VALUES (NEW.id, NEW.status, NEW.progress); END",
            "CREATE TRIGGER task_history_update AFTER UPDATE ON export_tasks BEGIN "
            "INSERT INTO task_history (task_id, status, progress) VALUES (NEW.id, NEW.status, NEW.progress); END",
        ],
        "postgresql": [
            "CREATE TABLE task_history (id SERIAL PRIMARY KEY, task_id INT, status TEXT, progress INT)",
            "CREATE FUNCTION task_history_log() RETURNS trigger AS $$ BEGIN "
            "INSERT INTO task_history (task_id, status, progress) VALUES (NEW.id, NEW.status, NEW.progress); "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER task_history_log AFTER INSERT OR UPDATE ON export_tasks FOR EACH ROW "
            "EXECUTE FUNCTION task_history_log()",
        ],
    }
    with engine.begin() as connection:
        for statement in statements[engine.dialect.name]:
            connection.exec_driver_sql(statement)

    def history(task_id: int) -> list[tuple[str, int]]:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT status, progress FROM task_history WHERE task_id = :t ORDER BY id"),
                {"t": task_id},
            ).all()
        changes = []
        for row in rows:  # consecutive identical states are one state for a reader
            if not changes or changes[-1] != tuple(row):
                changes.append(tuple(row))
        return changes

    return history


@dataclass
class Ran:
    run_requests: list
    results: list


def run_pending(instance, db_url, store_root, now: datetime = T0) -> Ran:
    """One tick of the sensor at `now`, then each requested run executed on `instance` with the request's tags
    (what the daemon does)."""
    from routines.defs.exports.jobs import export_task_job
    from routines.defs.exports.sensors import build_export_tasks_sensor

    resources = {
        "database": DatabaseResource(url=db_url),
        "file_store": FileStoreResource(root=str(store_root)),
    }
    sensor = build_export_tasks_sensor(export_task_job, clock=lambda: now)
    context = dg.build_sensor_context(instance=instance, resources={"database": resources["database"]})
    result = sensor.evaluate_tick(context)
    results = [
        export_task_job.execute_in_process(
            instance=instance, tags=request.tags, resources=resources, raise_on_error=False
        )
        for request in result.run_requests or []
    ]
    return Ran(list(result.run_requests or []), results)


def pdf_bytes(label: str) -> bytes:
    """A small real PDF (fpdf2) standing for an invoice."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, label)
    return bytes(pdf.output())


@pytest.fixture
def invoices(engine, people, store):
    """June 2025 for BEG: 3 clients x 2 operators; processes in every state, downloaded ones with a PDF in the
    store, two approved (one uploaded to the SAT). One ACME process (never in BEG's exports)."""
    month = date(2025, 6, 1)
    approved_at = datetime(2025, 7, 2, 14, 30, tzinfo=UTC)
    states = [
        ("AGUARDANDO_DOWNLOAD", False, False),
        ("FALHA_DOWNLOAD", False, False),
        ("AGUARDANDO_APROVACAO", True, False),
        ("AGUARDANDO_ENVIO_SAT", True, True),
        ("UPLOAD_REALIZADO", True, True),
        ("REJEITADO", True, False),
    ]
    with session_scope(engine) as session:
        operators = [
            Operator(code=code, name=f"Operadora {code}", has_rpa=True) for code in ("VIVO", "CLARO")
        ]
        session.add_all(operators)
        clients = [
            Client(company_id=people["BEG"], name=name, cnpj=cnpj)
            for name, cnpj in [("Hospital Santa Luzia", "11.222.333/0001-81"), ("Transportadora Rio Claro", None),
                               ("Açougue São João", "11.444.777/0001-61")]
        ]  # fmt: skip
        acme = Client(company_id=people["ACME"], name="Acme Fundo")
        session.add_all([*clients, acme])
        session.flush()
        processes = []
        for index, (client, operator) in enumerate((c, o) for c in clients for o in operators):
            status, downloaded, approved = states[index]
            process = InvoiceProcess(
                billing_month=month, client_id=client.id, operator_id=operator.id, status=status,
                download_attempts=1 if downloaded else 0, created_at=T0, updated_at=T0,
            )  # fmt: skip
            session.add(process)
            session.flush()
            if downloaded:
                data = pdf_bytes(f"Fatura {operator.code} {client.name}")
                stored = store.write_bytes(
                    f"invoices/2025/06/01/{operator.code}-cliente{client.id}-processo{process.id}.pdf", data
                )
                process.file_key, process.file_sha256, process.file_size = (
                    stored.key,
                    stored.sha256,
                    stored.size,
                )
            if approved:
                process.approved_by, process.approved_at = "ana.souza", approved_at
            if status == "UPLOAD_REALIZADO":
                process.sat_protocol, process.uploaded_at = "SAT-2025-000123", approved_at
            if status == "REJEITADO":
                process.rejected_by, process.rejected_at, process.rejection_reason = (
                    "ana",
                    approved_at,
                    "valor errado",
                )
            processes.append(process)
            session.add(ProcessTransition(process_id=process.id, to_status=status, actor="test"))
        session.add(ClientOperator(client_id=clients[0].id, operator_id=operators[0].id))
        session.add(InvoiceProcess(billing_month=month, client_id=acme.id, operator_id=operators[0].id,
                                   status="AGUARDANDO_DOWNLOAD"))  # fmt: skip
        session.flush()
        return {"month": month, "processes": [p.id for p in processes], "approved_at": approved_at}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_one(engine, db_url, store_root, tmp_path, task_type, user_id, company_id, payload):
    """Insert one task as the business application does and run it through the sensor and the job."""
    task_id = insert_task(engine, task_type, user_id, company_id, payload)
    tmp_path.mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        ran = run_pending(instance, db_url, store_root)
    assert [r.tags["routines/export_task"] for r in ran.run_requests] == [str(task_id)]
    with session_scope(engine) as session:
        task = session.get(ExportTask, task_id)
        session.expunge(task)
    return task, ran.results[0]
