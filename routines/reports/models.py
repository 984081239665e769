"""Tables of the reports domain.

- `report_definitions`: what to query, how to render it, to whom and when (cron + business-day calendar).
- `report_smtp_settings`: each company's own SMTP server (password encrypted at rest, see `secrets.py`).
- `report_executions`: one row per (report, scheduled time) or run-now request (legacy `ExecucaoAgendada`),
  including schedules missed while the daemon was down (status `missed`).
- `report_run_requests`: "run now" rows written by the business application, picked up by the sensor.
- `report_allowed_domains`: per company, the e-mail domains its reports may be sent to (none = any).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from routines.companies.models import Company
from routines.database.base import Base, UtcDateTime, utcnow

FORMATS = ("xlsx", "pdf", "csv")
SECURITY_MODES = ("none", "starttls", "tls")
SHIFT_CONVENTIONS = ("skip", "following", "preceding", "modified_following", "modified_preceding")
# report_executions.status: pending (requested, waiting for its run or its data), running, success, failed,
# skipped (its data did not arrive within the wait limit, routines.reports.waits), missed (older
# than the catch-up limit); report_run_requests.status: pending, accepted, rejected.
DEFAULT_TIMEZONE = "America/Sao_Paulo"


class ReportDefinition(Base):
    __tablename__ = "report_definitions"
    __table_args__ = (
        UniqueConstraint("company_id", "name"),
        UniqueConstraint("company_id", "slug"),
        # The sensor's only query per tick: due active definitions.
        Index("ix_report_definitions_due", "active", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Stable, readable id within the company (`resumo-diario`): the Dagster partition key is `<CODE>-<slug>`.
    # Set once from the name; renaming the report keeps it. NULL (row written by the business application)
    # is filled by the sensor.
    slug: Mapped[str | None] = mapped_column(String(80))
    query_sql: Mapped[str | None] = mapped_column(Text)
    dataset: Mapped[str | None] = mapped_column(String(100))
    # One format or several separated by commas ("xlsx,pdf"): one attachment each.
    format: Mapped[str] = mapped_column(String(20), default="xlsx")
    recipients_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    recipients_cc: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject_template: Mapped[str | None] = mapped_column(String(500))
    body_template: Mapped[str | None] = mapped_column(Text)
    cron: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    calendar_name: Mapped[str | None] = mapped_column(String(60))
    business_days_only: Mapped[bool] = mapped_column(Boolean, default=False)
    shift: Mapped[str] = mapped_column(String(20), default="skip")
    nth_business_day: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # waiting for data (routines.reports.waits): the assets the report reads (Dagster asset keys, e.g.
    # ["b3_quotes"]), whose partition of the report's day must be materialized before it runs; after
    # wait_limit_minutes past the scheduled time it is sent with a warning (wait_action "warn") or skipped ("skip")
    wait_for_assets: Mapped[list[str] | None] = mapped_column(JSON)
    wait_limit_minutes: Mapped[int | None] = mapped_column(Integer)
    wait_action: Mapped[str | None] = mapped_column(String(10))
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    company: Mapped[Company] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"ReportDefinition(id={self.id!r}, name={self.name!r}, company_id={self.company_id!r})"


class SmtpSettings(Base):
    __tablename__ = "report_smtp_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=587)
    security: Mapped[str] = mapped_column(String(10), default="starttls")
    username: Mapped[str | None] = mapped_column(String(255))
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str] = mapped_column(String(255))
    from_name: Mapped[str | None] = mapped_column(String(200))
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=30)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:  # never the password
        return f"SmtpSettings(company_id={self.company_id!r}, host={self.host!r}, port={self.port!r})"


class ReportExecution(Base):
    __tablename__ = "report_executions"
    __table_args__ = (Index("ix_report_executions_report_scheduled", "report_id", "scheduled_for"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report_definitions.id", ondelete="CASCADE"))
    # Deterministic key, also the Dagster run key: one row (and one run) per (report, scheduled time).
    run_key: Mapped[str] = mapped_column(String(200), unique=True)
    scheduled_for: Mapped[datetime] = mapped_column(UtcDateTime())
    partition_day: Mapped[str] = mapped_column(String(10))
    trigger: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), index=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    row_count: Mapped[int | None] = mapped_column(Integer)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    file_key: Mapped[str | None] = mapped_column(String(500))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    # Every file of the execution: [{"format", "key", "size", "sha256"}] (file_* above = the first one).
    files: Mapped[list[dict] | None] = mapped_column(JSON)
    recipients: Mapped[list[str] | None] = mapped_column(JSON)
    message_id: Mapped[str | None] = mapped_column(String(255))
    dagster_run_id: Mapped[str | None] = mapped_column(String(64))
    run_request_id: Mapped[int | None] = mapped_column(Integer)

    report: Mapped[ReportDefinition] = relationship()


class ReportRunRequest(Base):
    __tablename__ = "report_run_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report_definitions.id", ondelete="CASCADE"))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    execution_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class ReportAllowedDomain(Base):
    """An e-mail domain a company's reports may be sent to; a company without rows may send anywhere.
    `beg.com.br` also allows its subdomains (`financeiro.beg.com.br`)."""

    __tablename__ = "report_allowed_domains"
    __table_args__ = (UniqueConstraint("company_id", "domain"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
