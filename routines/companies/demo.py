"""Demo companies and their users for `routines demo seed` (idempotent: keyed by code and e-mail)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.companies.models import Company, User

DEMO_COMPANIES = [
    {"code": "BEG", "name": "BEG Telecomunicações Ltda.", "cnpj": "11.222.333/0001-81"},
    {"code": "ACME", "name": "Acme Gestão de Recursos S.A.", "cnpj": "44.555.666/0001-52"},
]


DEMO_USERS = [
    {"company": "BEG", "name": "Ana Souza", "email": "ana.souza@beg.com.br", "role": "admin"},
    {"company": "BEG", "name": "Bruno Lima", "email": "bruno.lima@beg.com.br", "role": "operator"},
    {"company": "BEG", "name": "Carla Dias", "email": "carla.dias@beg.com.br", "role": "viewer"},
    {"company": "ACME", "name": "Diego Alves", "email": "diego.alves@acme.com.br", "role": "admin"},
    {"company": "ACME", "name": "Elisa Rocha", "email": "elisa.rocha@acme.com.br", "role": "operator"},
]


def seed_demo(session: Session) -> int:
    """Insert the demo companies and users that are missing; returns how many rows were added."""
    existing = set(session.scalars(select(Company.code)))
    added = 0
    for row in DEMO_COMPANIES:
        if row["code"] not in existing:
            session.add(Company(**row))
            added += 1
    session.flush()
    companies = {company.code: company.id for company in session.scalars(select(Company))}
    emails = set(session.scalars(select(User.email)))
    for row in DEMO_USERS:
        if row["email"] not in emails:
            fields = {key: value for key, value in row.items() if key != "company"}
            session.add(User(company_id=companies[row["company"]], active=True, **fields))
            added += 1
    session.flush()
    return added
