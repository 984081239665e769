"""Fixtures of the reports tests: a real SMTP server on loopback (aiosmtpd), the secret key, demo rows."""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass, field

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage


@dataclass
class SmtpHandler:
    messages: list[Received] = field(default_factory=list)
    fail_next: int = 0  # answer the next N DATA commands with a transient 451
    fail_code: str = "451 4.3.0 Tente novamente mais tarde"
    attempts: int = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.attempts += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            return self.fail_code
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: SmtpHandler

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def secret_key(monkeypatch) -> str:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("ROUTINES_SECRET_KEY", key)
    monkeypatch.setenv("ROUTINES_REPORTS_SMTP_BACKOFF", "0.01")
    return key


def seed_companies(engine) -> dict[str, int]:
    """The demo companies BEG and ACME; returns {code: id}."""
    from sqlalchemy import select

    from routines.companies.demo import seed_demo
    from routines.companies.models import Company
    from routines.database.engine import session_scope

    with session_scope(engine) as session:
        seed_demo(session)
        return {c.code: c.id for c in session.scalars(select(Company))}


@pytest.fixture
def companies(engine):
    return seed_companies(engine)


DEMO_LIKE_QUERY = (
    "WITH itens(codigo, descricao, valor_total) AS (SELECT 1, 'Faturas recebidas', 15230.45 "
    "UNION ALL SELECT 2, 'Faturas enviadas', 100.5) "
    'SELECT i.codigo AS "Código", i.descricao AS "Descrição", i.valor_total AS "Valor total", c.name AS "Empresa" '
    "FROM itens i CROSS JOIN companies c WHERE c.code = 'BEG' ORDER BY i.codigo"
)


@pytest.fixture
def smtp_for(engine, companies):
    """smtp_for(code, server_or_port, **kw): set a company's SMTP settings."""
    from routines.database.engine import session_scope
    from routines.reports.service import set_smtp_settings

    def _set(code: str, port: int, **kwargs):
        values = {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from_address": f"rel@{code.lower()}.com.br",
        }
        values.update(kwargs)
        with session_scope(engine) as session:
            set_smtp_settings(session, companies[code], **values)

    return _set


@pytest.fixture
def make_report(engine, companies):
    """make_report(now=..., **fields) -> report id (saved through the same validation as the CLI)."""
    from datetime import UTC, datetime

    from routines.database.engine import session_scope
    from routines.reports.models import ReportDefinition
    from routines.reports.service import save_definition

    def _make(code: str = "BEG", now: datetime | None = None, **fields) -> int:
        values = {
            "name": "Resumo de faturas",
            "query_sql": DEMO_LIKE_QUERY,
            "format": "xlsx,pdf",
            "recipients_to": ["financeiro@beg.com.br"],
            "recipients_cc": ["diretoria@beg.com.br"],
            "cron": "0 8 * * *",
            "timezone": "America/Sao_Paulo",
            "active": True,
        }
        values.update(fields)
        with session_scope(engine) as session:
            definition = ReportDefinition(company_id=companies[code], **values)
            save_definition(session, definition, now=now or datetime.now(UTC))
            return definition.id

    return _make
