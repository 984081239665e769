"""The `rpa` concurrency pool bounds the RPA jobs in flight across concurrent runs (a backfill of many
month x operator partitions), measured by the fake RPA server."""

from __future__ import annotations

from datetime import date

import dagster as dg
from sqlalchemy import func, select

from routines.companies.models import Company
from routines.database.engine import get_engine, session_scope
from routines.invoices import service
from routines.invoices.models import Client, ClientOperator, InvoiceProcess, Operator
from routines_tests.invoices.backfill import run_backfill
from routines_tests.invoices.fakes import fake_rpa


def seed_operators(url: str, operators: int, clients: int, month: date) -> list[str]:
    """`operators` operators with RPA, `clients` clients each, processes created for `month`."""
    codes = [f"OP{i:02d}" for i in range(operators)]
    with session_scope(get_engine(url)) as session:
        company = Company(code="POOL", name="Pool Ltda.")
        session.add(company)
        session.flush()
        client_rows = [Client(company_id=company.id, name=f"Cliente {i}") for i in range(clients)]
        operator_rows = [Operator(code=code, name=code, has_rpa=True, rpa_endpoint_name=code.lower()) for code in codes]
        session.add_all(client_rows + operator_rows)
        session.flush()
        session.add_all(ClientOperator(client_id=c.id, operator_id=o.id) for c in client_rows for o in operator_rows)
        session.flush()
        service.create_month_processes(session, month, "test")
    return codes


def test_pool_limit_holds_under_a_backfill(sqlite_db_url, tmp_path):
    limit = 2
    codes = seed_operators(sqlite_db_url, operators=6, clients=2, month=date(2025, 6, 1))
    with fake_rpa(latency=0.3, log_lines=2) as (rpa_url, rpa), dg.instance_for_test(
        temp_dir=str(tmp_path)
    ) as instance:
        instance.event_log_storage.set_concurrency_slots("rpa", limit)
        instance.add_dynamic_partitions("invoice_operators", codes)
        result = run_backfill(instance, sqlite_db_url, tmp_path / "files", rpa_url, "2025-06-01", codes)
        assert len(result.outcomes) == len(codes) and all(result.outcomes.values()), result.outcomes
        print("backfill seconds", result.seconds)
        assert len(rpa.jobs) == 12
        assert rpa.max_in_flight == limit  # reached, never exceeded
        # every slot was given back
        assert instance.event_log_storage.get_concurrency_info("rpa").active_slot_count == 0
    with session_scope(get_engine(sqlite_db_url)) as session:
        assert session.scalar(
            select(func.count()).select_from(InvoiceProcess).where(InvoiceProcess.status == "AGUARDANDO_APROVACAO")
        ) == 12


def test_without_the_pool_the_same_backfill_exceeds_the_limit(sqlite_db_url, tmp_path):
    """Control: the pool is what bounds the concurrency (same runs, no pool limit -> more jobs in flight)."""
    codes = seed_operators(sqlite_db_url, operators=4, clients=1, month=date(2025, 6, 1))
    with fake_rpa(latency=1.0, log_lines=2) as (rpa_url, rpa), dg.instance_for_test(
        temp_dir=str(tmp_path)
    ) as instance:
        instance.add_dynamic_partitions("invoice_operators", codes)
        result = run_backfill(instance, sqlite_db_url, tmp_path / "files", rpa_url, "2025-06-01", codes)
        assert all(result.outcomes.values()), result.outcomes
        assert rpa.max_in_flight > 2
