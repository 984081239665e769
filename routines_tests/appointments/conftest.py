"""Fixtures of the appointments tests: a company and a helper that books appointments as the application does."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert

from routines.appointments.models import Appointment
from routines.companies.models import Company
from routines.database.engine import session_scope


@pytest.fixture
def company_id(engine) -> int:
    with session_scope(engine) as session:
        company = Company(code="CLIN", name="Clínica Sorriso")
        session.add(company)
        session.flush()
        return company.id


def book(
    engine,
    company_id: int,
    at: datetime,
    notes: str | None = None,
    updated_at: datetime | None = None,
    **extra,
):
    """Insert one appointment as the business application would (returns its id)."""
    values = {
        "company_id": company_id,
        "scheduled_at": at,
        "active": True,
        "booked_name": extra.pop("booked_name", "Paciente"),
        "notes": notes,
        **extra,
    }
    if updated_at is not None:
        values["updated_at"] = updated_at
    with engine.begin() as connection:
        return connection.execute(insert(Appointment).values(**values).returning(Appointment.id)).scalar_one()


def book_many(engine, company_id: int, count: int, at: datetime) -> None:
    """`count` past appointments in one INSERT ... SELECT-free bulk insert (executemany)."""
    rows = [
        {
            "company_id": company_id,
            "scheduled_at": at,
            "active": True,
            "booked_name": f"Paciente {n}",
            "notes": None,
        }
        for n in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(Appointment), rows)
