"""Report definitions and executions: validation on save, SMTP settings, and running one execution
(query -> render -> store -> e-mail -> execution row). Plain Python: the CLI, the asset and the tests call it.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from routines.companies.models import Company
from routines.database.base import utcnow
from routines.database.engine import session_scope
from routines.errors import UserError
from routines.files import FileStore, dated_key
from routines.reports import secrets
from routines.reports.config import ReportsConfig
from routines.reports.datasets import dataset_sql
from routines.reports.mail import Attachment, SmtpConfig, build_message, send_message
from routines.reports.models import (
    DEFAULT_TIMEZONE,
    FORMATS,
    SECURITY_MODES,
    ReportDefinition,
    ReportExecution,
    ReportRunRequest,
    SmtpSettings,
)
from routines.reports.query import run_query
from routines.reports.render import MIME_TYPES, ReportContext, ReportTable, preview_markdown, render
from routines.reports.schedule import Scheduler, ScheduleSpec, partition_day, validate_schedule
from routines.reports.validation import (
    ReportValidationError,
    render_template,
    validate_addresses,
    validate_query,
    validate_recipients,
    validate_template,
)

DEFAULT_SUBJECT = "{relatorio} - {empresa} - {data}"
DEFAULT_BODY = (
    "Prezados,\n\n"
    "Segue em anexo o relatório {relatorio} da empresa {empresa}, referente a {data} ({linhas} linhas).\n\n"
    "Gerado em {gerado_em}.\n\n"
    "Mensagem automática, não responda."
)


class ReportRunError(UserError):
    """An execution failed; the execution row holds the same message (status failed)."""

    def __init__(self, message: str, execution_id: int | None = None):
        self.execution_id = execution_id
        super().__init__(message)


# -- definitions -------------------------------------------------------------------------------------------
def parse_formats(value: str | None, report: str | None = None) -> list[str]:
    formats = [f.strip().lower() for f in (value or "").split(",") if f.strip()]
    if not formats:
        raise ReportValidationError("format", f"no format: choose from {', '.join(FORMATS)}", report)
    for fmt in formats:
        if fmt not in FORMATS:
            raise ReportValidationError(
                "format", f"{fmt!r}: expected {', '.join(FORMATS)} (or several: xlsx,pdf)", report
            )
    return list(dict.fromkeys(formats))


def validate_definition(definition: ReportDefinition, calendar_lookup: Callable | None = None) -> None:
    """Everything checked when a definition is saved (and again when it runs)."""
    name = definition.name
    if not name or not name.strip():
        raise ReportValidationError("name", "empty report name")
    if bool(definition.query_sql and definition.query_sql.strip()) == bool(definition.dataset):
        raise ReportValidationError("query", "give either a SQL query or a named dataset (exactly one)", name)
    if definition.query_sql:
        definition.query_sql = validate_query(definition.query_sql, name)
    else:
        dataset_sql(definition.dataset, definition.company_id or 0, name)
    definition.format = ",".join(parse_formats(definition.format, name))
    definition.recipients_to, definition.recipients_cc = validate_recipients(
        definition.recipients_to, definition.recipients_cc, name
    )
    validate_template(definition.subject_template, "subject_template", name)
    validate_template(definition.body_template, "body_template", name)
    validate_schedule(ScheduleSpec.of(definition), calendar_lookup, name)


def compute_next_run(definition: ReportDefinition, after: datetime, calendar_lookup: Callable | None = None):
    return Scheduler(ScheduleSpec.of(definition), calendar_lookup).next_after(after)


def company_by_code(session: Session, code: str) -> Company:
    company = session.scalar(select(Company).where(Company.code == code))
    if company is None:
        raise UserError(f"unknown company code {code!r} (see the companies table)")
    return company


def save_definition(
    session: Session,
    definition: ReportDefinition,
    now: datetime | None = None,
    calendar_lookup: Callable | None = None,
) -> ReportDefinition:
    """Validate, compute next_run_at (when active) and add/flush."""
    validate_definition(definition, calendar_lookup)
    if definition.active:
        definition.next_run_at = compute_next_run(definition, now or utcnow(), calendar_lookup)
    session.add(definition)
    session.flush()
    return definition


def set_active(
    session: Session, report_id: int, active: bool, now: datetime | None = None
) -> ReportDefinition:
    definition = session.get(ReportDefinition, report_id)
    if definition is None:
        raise UserError(f"no report with id {report_id}")
    definition.active = active
    # Re-enabling starts from now: schedules passed while disabled are not caught up.
    definition.next_run_at = compute_next_run(definition, now or utcnow()) if active else None
    session.flush()
    return definition


def request_run(session: Session, report_id: int, requested_by: str | None = None) -> ReportRunRequest:
    """What the business application's "Executar agora" button does: a row the sensor picks up."""
    if session.get(ReportDefinition, report_id) is None:
        raise UserError(f"no report with id {report_id}")
    request = ReportRunRequest(report_id=report_id, requested_by=requested_by, status="pending")
    session.add(request)
    session.flush()
    return request


# -- SMTP settings -----------------------------------------------------------------------------------------
def set_smtp_settings(
    session: Session,
    company_id: int,
    *,
    host: str,
    port: int,
    security: str,
    from_address: str,
    username: str | None = None,
    password: str | None = None,
    from_name: str | None = None,
    timeout_seconds: int = 30,
) -> SmtpSettings:
    if security not in SECURITY_MODES:
        raise ReportValidationError("security", f"{security!r}: expected {', '.join(SECURITY_MODES)}")
    if not host:
        raise ReportValidationError("host", "empty SMTP host")
    if not 0 < int(port) < 65536:
        raise ReportValidationError("port", f"{port}: expected 1..65535")
    validate_addresses([from_address], "from_address")
    settings = session.scalar(select(SmtpSettings).where(SmtpSettings.company_id == company_id))
    if settings is None:
        settings = SmtpSettings(company_id=company_id)
        session.add(settings)
    settings.host, settings.port, settings.security = host, int(port), security
    settings.username, settings.from_address, settings.from_name = username or None, from_address, from_name
    settings.timeout_seconds = timeout_seconds
    settings.password_encrypted = secrets.encrypt(password) if password else None
    session.flush()
    return settings


def load_smtp_config(session: Session, company_id: int, company_code: str = "") -> SmtpConfig:
    """The company's own SMTP settings (never another company's), password decrypted."""
    settings = session.scalar(select(SmtpSettings).where(SmtpSettings.company_id == company_id))
    if settings is None:
        raise UserError(
            f"company {company_code or company_id} has no SMTP settings: set them with `routines reports smtp`"
        )
    if settings.company_id != company_id:  # pragma: no cover - guarded by the query
        raise UserError("SMTP settings of another company refused")
    password = secrets.decrypt(settings.password_encrypted) if settings.password_encrypted else None
    return SmtpConfig(
        company_id=settings.company_id,
        host=settings.host,
        port=settings.port,
        security=settings.security,
        from_address=settings.from_address,
        username=settings.username,
        password=password,
        from_name=settings.from_name,
        timeout=float(settings.timeout_seconds or 30),
    )


# -- executions --------------------------------------------------------------------------------------------
def schedule_run_key(report_id: int, scheduled_for: datetime) -> str:
    return f"report-{report_id}-{scheduled_for.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def request_run_key(report_id: int, request_id: int) -> str:
    return f"report-{report_id}-request-{request_id}"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()[:60] or "relatorio"


@dataclass
class ExecutionResult:
    execution_id: int
    report_id: int
    status: str
    row_count: int = 0
    truncated: bool = False
    files: list[dict] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    message_id: str | None = None
    preview: str = ""
    already_done: bool = False

    def metadata(self) -> dict[str, object]:
        first = self.files[0] if self.files else {}
        return {
            "execution_id": self.execution_id,
            "report_id": self.report_id,
            "rows": self.row_count,
            "truncated": self.truncated,
            "file_key": first.get("key", ""),
            "file_size_bytes": first.get("size", 0),
            "file_sha256": first.get("sha256", ""),
            "files": ", ".join(f"{f['key']} ({f['size']} bytes)" for f in self.files),
            "recipients": ", ".join(self.recipients),
            "message_id": self.message_id or "",
        }


def _start_execution(
    session: Session,
    *,
    report_id: int,
    run_key: str | None,
    trigger: str,
    day: str | None,
    dagster_run_id: str | None,
    now: datetime,
) -> ReportExecution:
    execution = None
    if run_key:
        execution = session.scalar(select(ReportExecution).where(ReportExecution.run_key == run_key))
    if execution is None:
        if session.get(ReportDefinition, report_id) is None:
            raise ReportRunError(f"no report with id {report_id}")
        execution = ReportExecution(
            report_id=report_id,
            run_key=run_key or f"report-{report_id}-{trigger}-{dagster_run_id or uuid.uuid4().hex}",
            scheduled_for=now,
            partition_day=day or partition_day(now),
            trigger=trigger,
            status="pending",
            requested_at=now,
            truncated=False,
        )
        session.add(execution)
    elif execution.report_id != report_id:
        raise ReportRunError(
            f"execution {run_key!r} belongs to report {execution.report_id}, not {report_id}"
        )
    return execution


def run_execution(
    engine: Engine,
    store: FileStore,
    *,
    report_id: int,
    run_key: str | None = None,
    trigger: str = "manual",
    day: str | None = None,
    dagster_run_id: str | None = None,
    config: ReportsConfig | None = None,
    now: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] | None = None,
) -> ExecutionResult:
    """Run one execution of a report and record it.

    `run_key` names an execution row created by the sensor (scheduled or run-now request); without it a new
    row is created (`ui`: materialized from the Dagster UI, `manual`: CLI in-process). An execution that
    already succeeded is not sent again. Any failure is recorded on the row (status failed, error) and
    raised as ReportRunError with the same text.
    """
    config = config or ReportsConfig.from_env()
    started = now()
    with session_scope(engine) as session:
        execution = _start_execution(
            session, report_id=report_id, run_key=run_key, trigger=trigger, day=day,
            dagster_run_id=dagster_run_id, now=started,
        )  # fmt: skip
        if execution.status == "success":
            return ExecutionResult(
                execution_id=execution.id, report_id=report_id, status="success", row_count=execution.row_count or 0,
                files=list(execution.files or []), recipients=list(execution.recipients or []),
                message_id=execution.message_id, already_done=True,
            )  # fmt: skip
        execution.status, execution.started_at, execution.finished_at = "running", started, None
        execution.error = None
        execution.dagster_run_id = dagster_run_id or execution.dagster_run_id
        session.flush()
        execution_id = execution.id
        definition = session.get(ReportDefinition, report_id)
        definition.last_run_at = started
        snapshot = {
            "name": definition.name,
            "active": definition.active,
            "company_id": definition.company_id,
            "company_code": definition.company.code,
            "company_name": definition.company.name,
            "query_sql": definition.query_sql,
            "dataset": definition.dataset,
            "format": definition.format,
            "to": list(definition.recipients_to or []),
            "cc": list(definition.recipients_cc or []),
            "subject": definition.subject_template or DEFAULT_SUBJECT,
            "body": definition.body_template or DEFAULT_BODY,
            "timezone": definition.timezone or DEFAULT_TIMEZONE,
            "day": execution.partition_day,
            "scheduled_for": execution.scheduled_for,
        }

    try:
        result = _produce_and_send(engine, store, execution_id, report_id, snapshot, config, now, sleep)
    except Exception as exc:
        message = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        with session_scope(engine) as session:
            row = session.get(ReportExecution, execution_id)
            row.status, row.error, row.finished_at = "failed", message, now()
        raise ReportRunError(message, execution_id) from exc

    with session_scope(engine) as session:
        row = session.get(ReportExecution, execution_id)
        first = result.files[0]
        row.status, row.finished_at, row.error = "success", now(), None
        row.row_count, row.truncated = result.row_count, result.truncated
        row.file_key, row.file_size, row.file_sha256 = first["key"], first["size"], first["sha256"]
        row.files, row.recipients, row.message_id = result.files, result.recipients, result.message_id
    return result


def _produce_and_send(engine, store, execution_id, report_id, snap, config, now, sleep) -> ExecutionResult:
    name = snap["name"]
    if not snap["active"]:
        raise UserError(
            f"report {report_id} {name!r} is disabled: enable it with `routines reports enable {report_id}`"
        )
    to, cc = validate_recipients(snap["to"], snap["cc"], name)
    formats = parse_formats(snap["format"], name)
    sql = snap["query_sql"] or dataset_sql(snap["dataset"] or "", snap["company_id"], name)
    validate_query(sql, name)
    with session_scope(engine) as session:
        smtp = load_smtp_config(session, snap["company_id"], snap["company_code"])
    if smtp.company_id != snap["company_id"]:  # never another company's server
        raise UserError(f"SMTP settings of company {smtp.company_id} refused for report {name!r}")

    table: ReportTable = run_query(engine, sql, config.max_rows, config.query_timeout_seconds, name)
    day = date.fromisoformat(snap["day"])
    generated_at = now()
    context = ReportContext(
        title=name,
        company=snap["company_name"],
        period=f"{day:%d/%m/%Y}",
        generated_at=generated_at,
        timezone=snap["timezone"],
    )
    stamp = f"{snap['scheduled_for'].astimezone(ZoneInfo(snap['timezone'])):%Y%m%d_%H%M}"
    base = f"{snap['company_code'].lower()}_{_slug(name)}_{stamp}_e{execution_id}"
    files, attachments = [], []
    for fmt in formats:
        data = render(table, context, fmt)
        filename = f"{base}.{fmt}"
        stored = store.write_bytes(dated_key("reports", day, filename), data)
        files.append({"format": fmt, "key": stored.key, "size": stored.size, "sha256": stored.sha256})
        attachments.append(Attachment(filename=filename, data=data, mime_type=MIME_TYPES[fmt]))

    values = {
        "relatorio": name,
        "empresa": snap["company_name"],
        "data": f"{day:%d/%m/%Y}",
        "periodo": f"{day:%d/%m/%Y}",
        "linhas": table.row_count,
        "gerado_em": context.generated_label,
        "arquivo": ", ".join(a.filename for a in attachments),
    }
    subject = render_template(snap["subject"], values).replace("\n", " ").strip()
    body = render_template(snap["body"], values)
    if table.truncated:
        body += f"\n\nAtenção: o resultado foi limitado a {table.row_count} linhas."
    message = build_message(smtp, to, cc, subject, body, attachments)
    kwargs = {"attempts": config.smtp_attempts, "base_delay": config.smtp_base_delay}
    if sleep is not None:
        kwargs["sleep"] = sleep
    message_id = send_message(smtp, message, to + cc, **kwargs)
    return ExecutionResult(
        execution_id=execution_id, report_id=report_id, status="success", row_count=table.row_count,
        truncated=table.truncated, files=files, recipients=to + cc, message_id=message_id,
        preview=preview_markdown(table),
    )  # fmt: skip


# -- a definition's file, without e-mail (export tasks of type `report`) -------------------------------------
@dataclass(frozen=True)
class RenderedReport:
    file_name: str
    data: bytes
    row_count: int
    truncated: bool


def render_definition_file(
    engine: Engine,
    *,
    report_id: int,
    company_id: int,
    day: date,
    fmt: str,
    config: ReportsConfig | None = None,
    now: Callable[[], datetime] = utcnow,
) -> RenderedReport:
    """Run one of company `company_id`'s report definitions for reference day `day` (the same read-only query
    as a scheduled execution) and render it as `fmt`, in memory; no e-mail, no execution row. A report of
    another company is refused as if it did not exist."""
    config = config or ReportsConfig.from_env()
    with session_scope(engine) as session:
        definition = session.get(ReportDefinition, report_id)
        if definition is None or definition.company_id != company_id:
            raise ReportValidationError("report_id", f"no report with id {report_id} in this company")
        name, company = definition.name, definition.company
        sql = definition.query_sql or dataset_sql(definition.dataset or "", company_id, name)
        timezone = definition.timezone or DEFAULT_TIMEZONE
    (fmt,) = parse_formats(fmt, name)
    table = run_query(engine, sql, config.max_rows, config.query_timeout_seconds, name)
    context = ReportContext(
        title=name, company=company.name, period=f"{day:%d/%m/%Y}", generated_at=now(), timezone=timezone
    )
    file_name = f"{company.code.lower()}_{_slug(name)}_{day:%Y%m%d}.{fmt}"
    return RenderedReport(file_name, render(table, context, fmt), table.row_count, table.truncated)
