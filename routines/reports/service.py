"""Report definitions and executions: validation on save, SMTP settings, and running one execution
(query -> render -> store -> e-mail -> execution row). Plain Python: the CLI, the asset and the tests call it.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from routines.companies.models import Company
from routines.database.base import utcnow
from routines.database.engine import session_scope
from routines.errors import UserError
from routines.files import CHUNK, FileStore, dated_key
from routines.reports import secrets
from routines.reports.config import ReportsConfig
from routines.reports.datasets import dataset_sql
from routines.reports.mail import Attachment, SmtpConfig, build_message, send_message
from routines.reports.models import (
    DEFAULT_TIMEZONE,
    FORMATS,
    SECURITY_MODES,
    ReportAllowedDomain,
    ReportDefinition,
    ReportExecution,
    ReportRunRequest,
    SmtpSettings,
)
from routines.reports.query import QueryLimits, open_report_query
from routines.reports.render import MIME_TYPES, RenderSummary, ReportContext, preview_markdown, render_files
from routines.reports.schedule import Scheduler, ScheduleSpec, partition_day, validate_schedule
from routines.reports.slugs import slugify, unique_slug
from routines.reports.stale import RunningExecution, find_stale
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


def validate_definition(
    definition: ReportDefinition,
    calendar_lookup: Callable | None = None,
    dialect: str = "postgresql",
    allowed: list[str] | None = None,
    company_code: str = "",
) -> None:
    """Everything checked when a definition is saved (and again when it runs). `allowed`: the company's
    allowed recipient domains (empty = any)."""
    name = definition.name
    if not name or not name.strip():
        raise ReportValidationError("name", "empty report name")
    if bool(definition.query_sql and definition.query_sql.strip()) == bool(definition.dataset):
        raise ReportValidationError("query", "give either a SQL query or a named dataset (exactly one)", name)
    if definition.query_sql:
        definition.query_sql = validate_query(definition.query_sql, name, dialect)
    else:
        dataset_sql(definition.dataset, name)
    definition.format = ",".join(parse_formats(definition.format, name))
    definition.recipients_to, definition.recipients_cc = validate_recipients(
        definition.recipients_to, definition.recipients_cc, name
    )
    check_allowed_recipients(
        definition.recipients_to + definition.recipients_cc, allowed or [], company_code, name
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
    """Validate, give it its slug (once), compute next_run_at (when active) and add/flush."""
    company = session.get(Company, definition.company_id)
    if company is None:
        raise UserError(f"no company with id {definition.company_id}")
    validate_definition(
        definition, calendar_lookup, session.get_bind().dialect.name,
        allowed_domains(session, definition.company_id), company.code,
    )  # fmt: skip
    from routines.reports.waits import validate as validate_wait

    try:
        validate_wait(
            definition.wait_for_assets, definition.wait_limit_minutes, definition.wait_action, definition.name
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not definition.slug:
        definition.slug = next_slug(session, definition.company_id, definition.name)
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


def next_slug(session: Session, company_id: int, name: str) -> str:
    taken = session.scalars(
        select(ReportDefinition.slug).where(
            ReportDefinition.company_id == company_id, ReportDefinition.slug.is_not(None)
        )
    )
    return unique_slug(name, taken)


# -- allowed recipient domains -----------------------------------------------------------------------------
def normalize_domain(domain: str) -> str:
    from routines.reports.validation import EMAIL_RE

    value = (domain or "").strip().lower().lstrip("@").rstrip(".")
    if not value or not EMAIL_RE.match(f"x@{value}"):
        raise ReportValidationError("report_allowed_domains", f"invalid domain {domain!r}")
    return value


def allowed_domains(session: Session, company_id: int) -> list[str]:
    return list(
        session.scalars(
            select(ReportAllowedDomain.domain)
            .where(ReportAllowedDomain.company_id == company_id)
            .order_by(ReportAllowedDomain.domain)
        )
    )


def check_allowed_recipients(
    addresses: list[str], allowed: list[str], company_code: str, report: str | None
) -> None:
    """Refuse the first address outside the allowed domains (a domain also allows its subdomains)."""
    if not allowed:
        return
    for address in addresses:
        domain = address.rsplit("@", 1)[-1].lower()
        if not any(domain == d or domain.endswith("." + d) for d in allowed):
            raise ReportValidationError(
                "recipients",
                f"{address} is outside the domains allowed for company {company_code} ({', '.join(allowed)})",
                report,
            )


def set_allowed_domains(
    session: Session, company_id: int, add: list[str] = (), remove: list[str] = ()
) -> list[str]:
    """Add/remove allowed recipient domains of a company; returns the resulting list (empty = any)."""
    current = set(allowed_domains(session, company_id))
    for domain in map(normalize_domain, add):
        if domain not in current:
            session.add(ReportAllowedDomain(company_id=company_id, domain=domain))
            current.add(domain)
    for domain in map(normalize_domain, remove):
        if domain not in current:
            raise UserError(f"domain {domain} is not in the list of company {company_id}")
        session.execute(
            ReportAllowedDomain.__table__.delete().where(
                ReportAllowedDomain.company_id == company_id, ReportAllowedDomain.domain == domain
            )
        )
        current.discard(domain)
    session.flush()
    return sorted(current)


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


def rotate_smtp_passwords(
    session: Session, old_secret: str | None = None, new_secret: str | None = None
) -> int:
    """Re-encrypt every stored SMTP password: decrypted with `old_secret` (any derivation, default the current
    key), encrypted with `new_secret` (default ROUTINES_SECRET_KEY) in the current format. All or nothing: a
    password that cannot be decrypted stops it, naming the company. Returns how many were re-encrypted."""
    rows = list(session.scalars(select(SmtpSettings).where(SmtpSettings.password_encrypted.is_not(None))))
    for settings in rows:
        try:
            plain = secrets.decrypt(settings.password_encrypted, old_secret)
        except secrets.SecretKeyError as exc:
            raise UserError(f"SMTP password of company {settings.company_id}: {exc}") from None
        settings.password_encrypted = secrets.encrypt(plain, new_secret)
    session.flush()
    return len(rows)


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
    already_done: bool = False  # this call sent nothing: the execution was claimed by another run
    not_sent_reason: str = ""  # pt-BR: why nothing was sent

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


def _find_or_create_execution(
    engine: Engine, *, report_id: int, run_key: str, trigger: str, day: str | None, now: datetime
) -> int:
    """The execution row of `run_key`, created `pending` when missing (two runs creating it at once: one row)."""
    for _attempt in range(2):
        try:
            with session_scope(engine) as session:
                execution = session.scalar(select(ReportExecution).where(ReportExecution.run_key == run_key))
                if execution is None:
                    if session.get(ReportDefinition, report_id) is None:
                        raise ReportRunError(f"no report with id {report_id}")
                    execution = ReportExecution(
                        report_id=report_id, run_key=run_key, scheduled_for=now,
                        partition_day=day or partition_day(now), trigger=trigger, status="pending",
                        requested_at=now, truncated=False,
                    )  # fmt: skip
                    session.add(execution)
                    session.flush()
                elif execution.report_id != report_id:
                    raise ReportRunError(
                        f"execution {run_key!r} belongs to report {execution.report_id}, not {report_id}"
                    )
                return execution.id
        except IntegrityError:  # created by a concurrent run in between: read it
            continue
    raise ReportRunError(f"execution {run_key!r} could not be created")


def claim_execution(engine: Engine, execution_id: int, claimant: str, now: datetime) -> bool:
    """Compare-and-set `pending -> running`, tied to the claimant (the Dagster run id): of two runs of one
    execution, exactly one gets True. The database serializes the UPDATE (row lock on PostgreSQL, the write
    lock on SQLite) and the second one finds the status changed."""
    with session_scope(engine) as session:
        claimed = session.execute(
            update(ReportExecution)
            .where(ReportExecution.id == execution_id, ReportExecution.status == "pending")
            .values(status="running", dagster_run_id=claimant, started_at=now, finished_at=None, error=None)
        ).rowcount
    return claimed == 1


def _not_claimed(execution: ReportExecution) -> str:
    run = f" (execução Dagster {execution.dagster_run_id})" if execution.dagster_run_id else ""
    if execution.status == "success":
        return (
            f"nada enviado: a execução {execution.id} já foi enviada{run} em "
            f"{execution.finished_at:%d/%m/%Y %H:%M} UTC, mensagem {execution.message_id}"
        )
    if execution.status == "running":
        return f"nada enviado: a execução {execution.id} já está sendo enviada{run}"
    if execution.status == "failed":
        return (
            f"nada enviado: a execução {execution.id} falhou{run} e não é reenviada automaticamente "
            f'({execution.error}); use "executar agora" para gerar uma nova'
        )
    return f"nada enviado: a execução {execution.id} está {execution.status}"


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
    data_warning: str | None = None,
) -> ExecutionResult:
    """Run one execution of a report and record it; the e-mail of an execution leaves at most once.

    `data_warning` (pt-BR): added to the e-mail body when the report's data was not complete in time
    (`routines.reports.waits`).

    `run_key` names the execution row (created by the sensor, or here when missing); without it a new row is
    created (`manual`: CLI in-process). The row is claimed `pending -> running` by a compare-and-set tied to
    `dagster_run_id`: a run that loses the claim (re-execution, automatic retry, second daemon) sends nothing
    and returns `already_done` with the reason. Any failure after the claim is recorded on the row (failed,
    error) and raised as ReportRunError with the same text.
    """
    config = config or ReportsConfig.from_env()
    started = now()
    claimant = dagster_run_id or f"process-{uuid.uuid4().hex}"
    key = run_key or f"report-{report_id}-{trigger}-{claimant}"
    execution_id = _find_or_create_execution(
        engine, report_id=report_id, run_key=key, trigger=trigger, day=day, now=started
    )
    claimed = claim_execution(engine, execution_id, claimant, started)
    with session_scope(engine) as session:
        execution = session.get(ReportExecution, execution_id)
        if not claimed:
            return ExecutionResult(
                execution_id=execution.id, report_id=report_id, status=execution.status,
                row_count=execution.row_count or 0, files=list(execution.files or []),
                recipients=list(execution.recipients or []), message_id=execution.message_id,
                already_done=True, not_sent_reason=_not_claimed(execution),
            )  # fmt: skip
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
            "allowed": allowed_domains(session, definition.company_id),
            "data_warning": data_warning,
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


def truncation_note(row_count: int, truncated_by: str | None, config: ReportsConfig) -> str | None:
    """pt-BR: why the result was cut (files and e-mail), or None."""
    if truncated_by == "rows":
        return f"resultado limitado a {row_count} linhas"
    if truncated_by == "bytes":
        megabytes = f"{config.max_bytes / 1_000_000:g}".replace(".", ",")
        return f"resultado cortado em {row_count} linhas pelo limite de {megabytes} MB de dados por relatório"
    return None


def _file_chunks(path: Path):
    with open(path, "rb") as handle:
        yield from iter(lambda: handle.read(CHUNK), b"")


def _produce_and_send(engine, store, execution_id, report_id, snap, config, now, sleep) -> ExecutionResult:
    name = snap["name"]
    if not snap["active"]:
        raise UserError(
            f"report {report_id} {name!r} is disabled: enable it with `routines reports enable {report_id}`"
        )
    to, cc = validate_recipients(snap["to"], snap["cc"], name)
    check_allowed_recipients(to + cc, snap["allowed"], snap["company_code"], name)
    formats = parse_formats(snap["format"], name)
    sql = snap["query_sql"] or dataset_sql(snap["dataset"] or "", name)
    with session_scope(engine) as session:
        smtp = load_smtp_config(session, snap["company_id"], snap["company_code"])
    if smtp.company_id != snap["company_id"]:  # never another company's server
        raise UserError(f"SMTP settings of company {smtp.company_id} refused for report {name!r}")

    day = date.fromisoformat(snap["day"])
    context = ReportContext(
        title=name, company=snap["company_name"], period=f"{day:%d/%m/%Y}", generated_at=now(),
        timezone=snap["timezone"],
    )  # fmt: skip
    stamp = f"{snap['scheduled_for'].astimezone(ZoneInfo(snap['timezone'])):%Y%m%d_%H%M}"
    base = f"{snap['company_code'].lower()}_{slugify(name)}_{stamp}_e{execution_id}"
    limits = QueryLimits(config.max_rows, config.max_bytes, config.query_timeout_seconds)
    with tempfile.TemporaryDirectory(prefix="routines-report-") as folder:
        paths = {fmt: Path(folder) / f"{base}.{fmt}" for fmt in formats}
        with open_report_query(engine, sql, snap["company_id"], limits, name) as rows:
            handles = {fmt: open(path, "wb") for fmt, path in paths.items()}  # noqa: SIM115 - closed below
            try:
                summary, sample = render_files(
                    rows.columns, rows, context, handles,
                    lambda count: RenderSummary(count, rows.truncated, truncation_note(count, rows.truncated_by, config)),
                )  # fmt: skip
            finally:
                for handle in handles.values():
                    handle.close()
            columns = rows.columns
        files, attachments = [], []
        for fmt, path in paths.items():
            stored = store.write_chunks(dated_key("reports", day, path.name), _file_chunks(path))
            files.append({"format": fmt, "key": stored.key, "size": stored.size, "sha256": stored.sha256})
            attachments.append(
                Attachment(filename=path.name, data=path.read_bytes(), mime_type=MIME_TYPES[fmt])
            )

    values = {
        "relatorio": name,
        "empresa": snap["company_name"],
        "data": f"{day:%d/%m/%Y}",
        "periodo": f"{day:%d/%m/%Y}",
        "linhas": summary.row_count,
        "gerado_em": context.generated_label,
        "arquivo": ", ".join(a.filename for a in attachments),
    }
    subject = render_template(snap["subject"], values).replace("\n", " ").strip()
    body = render_template(snap["body"], values)
    if summary.truncated:
        body += f"\n\nAtenção: o {summary.warning.replace('resultado ', 'resultado foi ', 1)}."
    if snap.get("data_warning"):
        body += f"\n\n{snap['data_warning']}"
    message = build_message(smtp, to, cc, subject, body, attachments)
    del attachments
    kwargs = {"attempts": config.smtp_attempts, "base_delay": config.smtp_base_delay}
    if sleep is not None:
        kwargs["sleep"] = sleep
    message_id = send_message(smtp, message, to + cc, **kwargs)
    return ExecutionResult(
        execution_id=execution_id, report_id=report_id, status="success", row_count=summary.row_count,
        truncated=summary.truncated, files=files, recipients=to + cc, message_id=message_id,
        preview=preview_markdown(columns, sample, summary.row_count),
    )  # fmt: skip


# -- executions left behind by dead workers ------------------------------------------------------------------
def running_executions(engine: Engine) -> list[RunningExecution]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(ReportExecution.id, ReportExecution.dagster_run_id, ReportExecution.started_at).where(
                ReportExecution.status == "running"
            )
        ).all()
    return [RunningExecution(row.id, row.dagster_run_id, row.started_at) for row in rows]


def fail_stale_executions(
    engine: Engine,
    run_statuses: dict[str, str | None],
    now: datetime,
    config: ReportsConfig | None = None,
    running: list[RunningExecution] | None = None,
) -> list[int]:
    """Fail the `running` executions whose run is over or gone (see `stale.py`) and notify each failure once.
    Returns their ids. A row that changed meanwhile (its run finished it) is left alone."""
    from routines.notifications.service import FailedRun, record_failed_run

    config = config or ReportsConfig.from_env()
    running = running_executions(engine) if running is None else running
    stale = find_stale(running, run_statuses, now, timedelta(hours=config.stale_after_hours))
    failed = []
    with session_scope(engine) as session:
        for item in stale:
            changed = session.execute(
                update(ReportExecution)
                .where(ReportExecution.id == item.execution_id, ReportExecution.status == "running")
                .values(status="failed", error=item.reason, finished_at=now)
            ).rowcount
            if not changed:
                continue
            execution = session.get(ReportExecution, item.execution_id)
            record_failed_run(
                session,
                FailedRun(
                    run_id=item.dagster_run_id or execution.run_key[:64], job_name="reports_job",
                    partition_key=None, error=f"relatório {execution.report.name!r}, execução {execution.id}: {item.reason}",
                ),
            )  # fmt: skip
            failed.append(item.execution_id)
    return failed


# -- partition keys -------------------------------------------------------------------------------------------
def assign_missing_slugs(session: Session) -> int:
    """Definitions written by the business application without a slug get one (stable from then on)."""
    missing = list(
        session.scalars(
            select(ReportDefinition).where(ReportDefinition.slug.is_(None)).order_by(ReportDefinition.id)
        )
    )
    taken: dict[int, set[str]] = {}
    for company_id in {d.company_id for d in missing}:
        taken[company_id] = set(
            session.scalars(
                select(ReportDefinition.slug).where(
                    ReportDefinition.company_id == company_id, ReportDefinition.slug.is_not(None)
                )
            )
        )
    for definition in missing:
        definition.slug = unique_slug(definition.name, taken[definition.company_id])
        taken[definition.company_id].add(definition.slug)
    session.flush()
    return len(missing)


@dataclass(frozen=True)
class ActivePartition:
    report_id: int
    company_code: str


def active_partition_keys(session: Session) -> dict[str, ActivePartition]:
    """`report` partition key -> its definition and company, for every active definition (disabled ones have
    none)."""
    from routines.reports.slugs import partition_key

    rows = session.execute(
        select(ReportDefinition.id, ReportDefinition.slug, Company.code)
        .join(Company, Company.id == ReportDefinition.company_id)
        .where(ReportDefinition.active.is_(True), ReportDefinition.slug.is_not(None))
    ).all()
    return {partition_key(row.code, row.slug): ActivePartition(row.id, row.code) for row in rows}


def definition_id_for_partition(session: Session, key: str) -> int:
    """The definition behind a `report` partition key (`BEG-resumo-diario`)."""
    from routines.reports.slugs import company_key, split_partition_key

    try:
        company_part, slug = split_partition_key(key)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    rows = session.execute(
        select(ReportDefinition.id, Company.code)
        .join(Company, Company.id == ReportDefinition.company_id)
        .where(ReportDefinition.slug == slug)
    ).all()
    for row in rows:
        if company_key(row.code) == company_part:
            return row.id
    raise UserError(f"no report definition with partition key {key!r}")


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
    """Run one of company `company_id`'s report definitions for reference day `day` in the same sandbox as a
    scheduled execution (reporting views of that company only, same row/byte/time limits) and render it as
    `fmt`; no e-mail, no execution row. A report of another company is refused as if it did not exist."""
    config = config or ReportsConfig.from_env()
    with session_scope(engine) as session:
        definition = session.get(ReportDefinition, report_id)
        if definition is None or definition.company_id != company_id:
            raise ReportValidationError("report_id", f"no report with id {report_id} in this company")
        name, company = definition.name, definition.company
        sql = definition.query_sql or dataset_sql(definition.dataset or "", name)
        timezone = definition.timezone or DEFAULT_TIMEZONE
    (fmt,) = parse_formats(fmt, name)
    context = ReportContext(
        title=name, company=company.name, period=f"{day:%d/%m/%Y}", generated_at=now(), timezone=timezone
    )
    limits = QueryLimits(config.max_rows, config.max_bytes, config.query_timeout_seconds)
    buffer = io.BytesIO()
    with open_report_query(engine, sql, company_id, limits, name) as rows:
        summary, _sample = render_files(
            rows.columns, rows, context, {fmt: buffer},
            lambda count: RenderSummary(count, rows.truncated, truncation_note(count, rows.truncated_by, config)),
        )  # fmt: skip
    file_name = f"{company.code.lower()}_{slugify(name)}_{day:%Y%m%d}.{fmt}"
    return RenderedReport(file_name, buffer.getvalue(), summary.row_count, summary.truncated)
