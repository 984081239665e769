"""`routines demo seed`: demo reference data of every domain, idempotent (safe to run twice)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session


def _seeders() -> list[tuple[str, Callable[[Session], int]]]:
    from routines.appointments.demo import seed_demo as appointments_seed
    from routines.calendar.demo import seed_demo as calendar_seed
    from routines.companies.demo import seed_demo as companies_seed
    from routines.invoices.demo import seed_demo as invoices_seed
    from routines.market.demo import seed_demo as market_seed
    from routines.reports.demo import seed_demo as reports_seed

    # Order matters: later domains refer to companies.
    return [
        ("companies", companies_seed),
        ("calendar", calendar_seed),
        ("market", market_seed),
        ("invoices", invoices_seed),
        ("reports", reports_seed),
        ("appointments", appointments_seed),
    ]


def seed_demo(url: str | None = None) -> dict[str, int]:
    """Seed every domain in one transaction; returns rows added per domain."""
    from routines.database.engine import get_engine, session_scope

    added: dict[str, int] = {}
    with session_scope(get_engine(url)) as session:
        for domain, seed in _seeders():
            added[domain] = seed(session)
    return added
