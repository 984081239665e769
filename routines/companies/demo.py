"""Demo companies for `routines demo seed` (idempotent: keyed by code)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.companies.models import Company

DEMO_COMPANIES = [
    {"code": "BEG", "name": "BEG Telecomunicações Ltda.", "cnpj": "11.222.333/0001-81"},
    {"code": "ACME", "name": "Acme Gestão de Recursos S.A.", "cnpj": "44.555.666/0001-52"},
]


def seed_demo(session: Session) -> int:
    """Insert the demo companies that are missing; returns how many were added."""
    existing = set(session.scalars(select(Company.code)))
    added = 0
    for row in DEMO_COMPANIES:
        if row["code"] not in existing:
            session.add(Company(**row))
            added += 1
    session.flush()
    return added
