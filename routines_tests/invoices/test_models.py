"""Invoice tables through the migrations (SQLite and PostgreSQL): demo data, creation, transitions."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from routines.companies.demo import seed_demo as seed_companies
from routines.database import migrate
from routines.database.engine import get_engine, session_scope
from routines.database.models import metadata
from routines.invoices import service
from routines.invoices.demo import DEMO_CLIENTS, seed_demo
from routines.invoices.models import Client, ClientOperator, InvoiceProcess, Operator, ProcessTransition
from routines.invoices.status import IllegalTransition, Status

INVOICE_TABLES = {
    "invoice_operators",
    "invoice_clients",
    "invoice_client_operators",
    "invoice_processes",
    "invoice_process_transitions",
}


def seed(engine) -> None:
    with session_scope(engine) as session:
        seed_companies(session)
        seed_demo(session)


def test_migration_creates_the_tables_and_matches_the_models(db_url):
    engine = get_engine(db_url)
    assert INVOICE_TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in differences if "invoice" in repr(d)] == []
    migrate.downgrade(db_url, "0003_market")
    assert not INVOICE_TABLES & set(inspect(engine).get_table_names())
    migrate.upgrade(db_url)
    assert INVOICE_TABLES <= set(inspect(engine).get_table_names())


def test_demo_seed_is_idempotent(engine):
    with session_scope(engine) as session:
        seed_companies(session)
        first = seed_demo(session)
    with session_scope(engine) as session:
        second = seed_demo(session)
        operators = session.scalar(select(func.count()).select_from(Operator))
        clients = session.scalar(select(func.count()).select_from(Client))
        links = session.scalar(select(func.count()).select_from(ClientOperator))
    assert first == operators + clients + links > 0
    assert second == 0
    assert clients == len(DEMO_CLIENTS)
    assert links == sum(len(codes) for *_, codes in DEMO_CLIENTS)


def test_processes_are_created_once_per_active_pair_and_never_moved_back(engine):
    seed(engine)
    month = date(2025, 6, 1)
    with session_scope(engine) as session:
        first = service.create_month_processes(session, month, "run:a")
    pairs = sum(len(codes) for *_, codes in DEMO_CLIENTS)
    assert first.created == pairs and first.existing == 0
    with session_scope(engine) as session:
        process = session.scalars(select(InvoiceProcess).order_by(InvoiceProcess.id)).first()
        service.transition(session, process, Status.AGUARDANDO_APROVACAO, "run:b", "baixada", file_key="k")
        # a client that stops using an operator gets no new process but keeps its old ones
        link = session.scalars(select(ClientOperator).order_by(ClientOperator.id.desc())).first()
        link.active = False
    with session_scope(engine) as session:
        second = service.create_month_processes(session, month, "run:c")
        moved = session.get(InvoiceProcess, process.id)
        assert moved.status == Status.AGUARDANDO_APROVACAO and moved.file_key == "k"
        assert session.scalar(select(func.count()).select_from(InvoiceProcess)) == pairs
        july = service.create_month_processes(session, date(2025, 7, 15), "run:d")
    assert second.created == 0 and second.existing == pairs
    assert july.created == pairs - 1
    with session_scope(engine) as session:
        creations = session.scalars(
            select(ProcessTransition).where(ProcessTransition.from_status.is_(None))
        ).all()
        assert len(creations) == 2 * pairs - 1
        assert {t.actor for t in creations} == {"run:a", "run:d"}


def test_unique_month_client_operator(engine):
    seed(engine)
    with pytest.raises(IntegrityError):
        with session_scope(engine) as session:
            service.create_month_processes(session, date(2025, 6, 1), "run:a")
            process = session.scalars(select(InvoiceProcess)).first()
            session.add(
                InvoiceProcess(
                    billing_month=process.billing_month,
                    client_id=process.client_id,
                    operator_id=process.operator_id,
                    status="AGUARDANDO_DOWNLOAD",
                    download_attempts=0,
                )
            )
            session.flush()


def test_transition_is_recorded_atomically_and_illegal_ones_raise(engine):
    seed(engine)
    with session_scope(engine) as session:
        service.create_month_processes(session, date(2025, 6, 1), "run:a")
        process_id = session.scalars(select(InvoiceProcess.id)).first()
    # an error after the transition, in the same transaction, leaves neither status nor record behind
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            process = session.get(InvoiceProcess, process_id)
            service.transition(session, process, Status.FALHA_DOWNLOAD, "run:b", "job falhou", error="x")
            raise RuntimeError("killed")
    with session_scope(engine) as session:
        process = session.get(InvoiceProcess, process_id)
        assert process.status == Status.AGUARDANDO_DOWNLOAD and process.error is None
        assert (
            session.scalar(
                select(func.count())
                .select_from(ProcessTransition)
                .where(ProcessTransition.process_id == process_id)
            )
            == 1
        )
        with pytest.raises(IllegalTransition, match="AGUARDANDO_DOWNLOAD -> UPLOAD_REALIZADO"):
            service.transition(session, process, Status.UPLOAD_REALIZADO, "run:c")
    with session_scope(engine) as session:
        process = session.get(InvoiceProcess, process_id)
        record = service.transition(
            session, process, Status.FALHA_DOWNLOAD, "run:d", "job falhou", error="boom"
        )
        assert (record.from_status, record.to_status, record.actor, record.reason) == (
            "AGUARDANDO_DOWNLOAD",
            "FALHA_DOWNLOAD",
            "run:d",
            "job falhou",
        )
        assert record.at.tzinfo is not None and process.error == "boom"


def test_concurrent_change_is_detected(engine):
    seed(engine)
    with session_scope(engine) as session:
        service.create_month_processes(session, date(2025, 6, 1), "run:a")
        process_id = session.scalars(select(InvoiceProcess.id)).first()
    with session_scope(engine) as session:
        stale = session.get(InvoiceProcess, process_id)
        session.expunge(stale)
    with session_scope(engine) as session:
        service.transition(session, session.get(InvoiceProcess, process_id), Status.FALHA_DOWNLOAD, "run:b")
    with pytest.raises(service.ConcurrentChange):
        with session_scope(engine) as session:
            stale = session.merge(stale, load=False)
            service.transition(session, stale, Status.AGUARDANDO_APROVACAO, "run:c")
