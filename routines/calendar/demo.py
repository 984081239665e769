"""Demo data of the calendar domain for `routines demo seed` (idempotent).

Company calendars of the demo companies (looked up by code, so the seeding order does not matter):
- ``BEG`` (BEG Telecomunicações): ANBIMA plus a year-end recess, and an inventory Saturday that is a working day;
- ``ACME`` (Acme Gestão de Recursos): B3 plus a closed day for its office move.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from routines.calendar.company import CLOSED, OPEN, upsert_calendar_day

DEMO_CALENDARS = {
    "BEG": {
        "base": "ANBIMA",
        "description": "Calendário da BEG Telecomunicações (ANBIMA + recesso de fim de ano)",
        "days": [
            (date(2025, 12, 26), CLOSED, "Recesso de fim de ano"),
            (date(2026, 12, 24), CLOSED, "Recesso de fim de ano"),
            (date(2026, 12, 31), CLOSED, "Recesso de fim de ano"),
            (date(2026, 11, 28), OPEN, "Inventário anual (sábado de expediente)"),
        ],
    },
    "ACME": {
        "base": "B3",
        "description": "Calendário da Acme Gestão de Recursos (pregões da B3 + fechamentos internos)",
        "days": [
            (date(2026, 7, 10), CLOSED, "Mudança de escritório"),
        ],
    },
}


def seed_demo(session: Session) -> int:
    """Insert the missing demo calendars and days; returns how many rows were added."""
    added = 0
    for name, spec in DEMO_CALENDARS.items():
        for day, status, reason in spec["days"]:
            added += upsert_calendar_day(
                session,
                name,
                day,
                status,
                reason,
                base=spec["base"],
                description=spec["description"],
                company_code=name,
                replace=False,
            )
    session.flush()
    return added
