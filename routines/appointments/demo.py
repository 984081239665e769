"""Demo appointments for `routines demo seed` (idempotent: keyed by `client_reference`).

Times are relative to the moment of seeding: two already past (the hourly schedule, the on-save sensor or
`routines appointments close` closes them) and two in the coming days (they stay active).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.appointments.models import Appointment
from routines.companies.models import Company
from routines.database.base import utcnow

# (company code, reference, booked name, hours from now, notes)
DEMO_APPOINTMENTS = [
    (
        "BEG",
        "DEMO-AG-001",
        "Revisão de contrato - Transportadora Rio Claro",
        -26,
        "Contrato revisado com o cliente",
    ),
    ("BEG", "DEMO-AG-002", "Visita técnica - Hospital Santa Luzia", -3, None),
    ("BEG", "DEMO-AG-003", "Reunião de faturamento - Supermercados Boa Compra", 20, None),
    ("ACME", "DEMO-AG-004", "Comitê de investimentos", 72, "Pauta: cotas de junho"),
]


def seed_demo(session: Session) -> int:
    companies = {company.code: company.id for company in session.scalars(select(Company))}
    existing = set(session.scalars(select(Appointment.client_reference)))
    now = utcnow()
    added = 0
    for company, reference, name, hours, notes in DEMO_APPOINTMENTS:
        if reference in existing or company not in companies:
            continue
        session.add(
            Appointment(
                company_id=companies[company],
                scheduled_at=now + timedelta(hours=hours),
                active=True,
                booked_name=name,
                client_reference=reference,
                notes=notes,
            )
        )
        added += 1
    session.flush()
    return added
