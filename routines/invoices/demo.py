"""Demo data of the invoices domain for `routines demo seed` (idempotent).

Operators are keyed by code, clients by (company, name), client-operator links by the pair. Needs the demo
companies BEG and ACME (`routines.companies.demo`, seeded first).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.companies.models import Company
from routines.invoices.models import Client, ClientOperator, Operator

DEMO_OPERATORS = [
    {
        "code": "VIVO",
        "name": "Telefônica Brasil (Vivo)",
        "has_rpa": True,
        "outsourced_rpa": False,
        "rpa_endpoint_name": "vivo",
    },
    {
        "code": "CLARO",
        "name": "Claro S.A.",
        "has_rpa": True,
        "outsourced_rpa": False,
        "rpa_endpoint_name": "claro",
    },
    {"code": "TIM", "name": "TIM S.A.", "has_rpa": True, "outsourced_rpa": True, "rpa_endpoint_name": "tim"},
    {"code": "OI", "name": "Oi S.A.", "has_rpa": False, "outsourced_rpa": False, "rpa_endpoint_name": None},
]

# (company code, client name, cnpj, operator codes)
DEMO_CLIENTS = [
    ("BEG", "Transportadora Rio Claro Ltda.", "12.345.678/0001-95", ["VIVO", "CLARO"]),
    ("BEG", "Hospital Santa Luzia", "23.456.789/0001-06", ["VIVO", "TIM"]),
    ("BEG", "Supermercados Boa Compra S.A.", "34.567.890/0001-17", ["CLARO", "TIM", "OI"]),
    ("ACME", "Acme Fundo de Investimento", "45.678.901/0001-28", ["VIVO"]),
]


def seed_demo(session: Session) -> int:
    """Insert the missing demo rows; returns how many were added."""
    added = 0
    operators = {operator.code: operator for operator in session.scalars(select(Operator))}
    for row in DEMO_OPERATORS:
        if row["code"] not in operators:
            operators[row["code"]] = Operator(active=True, **row)
            session.add(operators[row["code"]])
            added += 1
    session.flush()
    companies = {company.code: company for company in session.scalars(select(Company))}
    for company_code, name, cnpj, operator_codes in DEMO_CLIENTS:
        company = companies.get(company_code)
        if company is None:  # companies are seeded first; without them there is nothing to attach clients to
            continue
        client = session.scalar(select(Client).where(Client.company_id == company.id, Client.name == name))
        if client is None:
            client = Client(company_id=company.id, name=name, cnpj=cnpj, active=True)
            session.add(client)
            session.flush()
            added += 1
        linked = set(
            session.scalars(select(ClientOperator.operator_id).where(ClientOperator.client_id == client.id))
        )
        for code in operator_codes:
            if operators[code].id not in linked:
                session.add(ClientOperator(client_id=client.id, operator_id=operators[code].id, active=True))
                added += 1
    session.flush()
    return added
