"""Tables of the invoices domain: telecom operators, clients, which operators each client uses, the monthly
invoice processes and every status transition of a process.

Statuses are changed only through `routines.invoices.service.transition` (the state machine of
`routines.invoices.status`), which writes the process row and its transition row in the same transaction.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from routines.companies.models import Company
from routines.database.base import Base, UtcDateTime, utcnow


class Operator(Base):
    """A telecom operator whose invoices are fetched (by the RPA when `has_rpa`)."""

    __tablename__ = "invoice_operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # also the Dagster operator partition key
    name: Mapped[str] = mapped_column(String(200))
    has_rpa: Mapped[bool] = mapped_column(Boolean, default=False)
    outsourced_rpa: Mapped[bool] = mapped_column(Boolean, default=False)
    rpa_endpoint_name: Mapped[str | None] = mapped_column(String(100))  # `{operadora}` in POST /executar/...
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Client(Base):
    """A client of a company whose telecom invoices are managed."""

    __tablename__ = "invoice_clients"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    name: Mapped[str] = mapped_column(String(200))
    cnpj: Mapped[str | None] = mapped_column(String(18))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    company: Mapped[Company] = relationship()


class ClientOperator(Base):
    """An operator a client uses (one invoice process per month for each active pair)."""

    __tablename__ = "invoice_client_operators"
    __table_args__ = (UniqueConstraint("client_id", "operator_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("invoice_clients.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("invoice_operators.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class InvoiceProcess(Base):
    """One invoice of one client at one operator for one billing month, and where it is in the flow."""

    __tablename__ = "invoice_processes"
    __table_args__ = (UniqueConstraint("billing_month", "client_id", "operator_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    billing_month: Mapped[date] = mapped_column(Date, index=True)  # first day of the month
    client_id: Mapped[int] = mapped_column(ForeignKey("invoice_clients.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("invoice_operators.id"))
    status: Mapped[str] = mapped_column(String(40), index=True)
    # RPA download
    job_id: Mapped[str | None] = mapped_column(String(100))
    download_attempts: Mapped[int] = mapped_column(Integer, default=0)
    file_key: Mapped[str | None] = mapped_column(String(500))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    last_log_lines: Mapped[str | None] = mapped_column(Text)
    # approval (written by the business application or `routines invoices approve/reject`)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rejected_by: Mapped[str | None] = mapped_column(String(200))
    rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # SAT upload
    sat_idempotency_key: Mapped[str | None] = mapped_column(String(100))
    sat_protocol: Mapped[str | None] = mapped_column(String(100))
    uploaded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    client: Mapped[Client] = relationship()
    operator: Mapped[Operator] = relationship()


class ProcessTransition(Base):
    """One status change of a process: from, to, when, who (a Dagster run or a user) and why."""

    __tablename__ = "invoice_process_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("invoice_processes.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(40))  # None = the process was created
    to_status: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class RpaLease(Base):
    """One RPA job in flight (or about to start): at most one row per slot number 0..N-1 (the primary key makes
    the limit atomic on every database) and one per process (the unique `process_id` is the claim that keeps two
    runs from starting two jobs for one process). `expires_at` is the holder's heartbeat; `job_deadline` (job
    start + job timeout + grace) how long the job may run on the RPA whatever its holder does. See
    `routines.invoices.leases`."""

    __tablename__ = "invoice_rpa_leases"

    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # this holding of the slot (compare-and-set)
    holder: Mapped[str] = mapped_column(String(200))  # run:<dagster run id>
    process_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_processes.id"), unique=True)
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    job_id: Mapped[str | None] = mapped_column(String(100))
    job_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    job_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime())
