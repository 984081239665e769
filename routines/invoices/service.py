"""Invoice processes in the business database: creation, transitions, downloads, decisions, SAT uploads.

No Dagster here: the assets, sensors and the CLI call these functions. Every status change goes through
`transition()` (checked by the state machine, guarded against concurrent changes, recorded with time, actor and
reason in the same transaction). Downloads and uploads commit each process on its own, after the external call
succeeded: a run killed midway leaves every process either untouched or completely moved, and re-running resumes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session

from routines.database.base import utcnow
from routines.database.engine import session_scope
from routines.errors import ConflictError, UserError
from routines.files import FileStore, dated_key
from routines.http import HttpError, RetryableHttpError
from routines.invoices import status as sm
from routines.invoices.leases import RpaLeases
from routines.invoices.models import Client, ClientOperator, InvoiceProcess, Operator, ProcessTransition
from routines.invoices.rpa import RpaClient
from routines.invoices.sat import SatClient, idempotency_key
from routines.invoices.status import Status

Log = Callable[[str], None]


class ConcurrentChange(ConflictError):
    """The process changed status since it was read (another run or a user moved it first)."""


def month_start(value: str | date) -> date:
    """The billing month as its first day, from a date, "YYYY-MM" or a partition key "YYYY-MM-DD"."""
    if isinstance(value, date):
        return value.replace(day=1)
    match = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"invalid billing month {value!r}: expected YYYY-MM")
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_label(month: date) -> str:
    return f"{month:%Y-%m}"


def run_actor(run_id: str) -> str:
    return f"run:{run_id}"


def user_actor(name: str) -> str:
    return f"user:{name}"


# -- the state machine applied to the database -------------------------------------------------------------------
def transition(
    session: Session,
    process: InvoiceProcess,
    target: Status | str,
    actor: str,
    reason: str | None = None,
    **changes,
) -> ProcessTransition:
    """Move `process` to `target` and record it, in the caller's transaction.

    Raises IllegalTransition for a change the flow does not allow, ConcurrentChange when the row's status is no
    longer the one read (compare-and-set on the status column).
    """
    current = process.status
    destination = sm.check(current, target, process.id)
    now = utcnow()
    result = session.execute(
        update(InvoiceProcess)
        .where(InvoiceProcess.id == process.id, InvoiceProcess.status == current)
        .values(status=destination.value, updated_at=now, **changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ConcurrentChange(f"process {process.id} is no longer {current}: changed by someone else")
    record = ProcessTransition(
        process_id=process.id,
        from_status=current,
        to_status=destination.value,
        at=now,
        actor=actor,
        reason=reason,
    )
    session.add(record)
    session.flush()
    session.refresh(process)
    return record


# -- creation -------------------------------------------------------------------------------------------------------
@dataclass
class CreationSummary:
    month: date
    created: int = 0
    existing: int = 0
    by_operator: dict[str, int] = field(default_factory=dict)


def create_month_processes(session: Session, month: date, actor: str) -> CreationSummary:
    """One AGUARDANDO_DOWNLOAD process per active client x operator pair for `month`; existing ones untouched."""
    month = month_start(month)
    pairs = session.execute(
        select(ClientOperator.client_id, ClientOperator.operator_id, Operator.code)
        .join(Client, Client.id == ClientOperator.client_id)
        .join(Operator, Operator.id == ClientOperator.operator_id)
        .where(ClientOperator.active.is_(True), Client.active.is_(True), Operator.active.is_(True))
        .order_by(Operator.code, ClientOperator.client_id)
    ).all()
    existing = set(
        session.execute(
            select(InvoiceProcess.client_id, InvoiceProcess.operator_id).where(
                InvoiceProcess.billing_month == month
            )
        ).all()
    )
    summary = CreationSummary(month=month, existing=len(existing))
    for client_id, operator_id, code in pairs:
        if (client_id, operator_id) in existing:
            continue
        now = utcnow()
        process = InvoiceProcess(
            billing_month=month,
            client_id=client_id,
            operator_id=operator_id,
            status=sm.INITIAL.value,
            download_attempts=0,
            created_at=now,
            updated_at=now,
        )
        session.add(process)
        session.flush()
        session.add(
            ProcessTransition(
                process_id=process.id,
                from_status=None,
                to_status=sm.INITIAL.value,
                at=now,
                actor=actor,
                reason=f"processo mensal criado para {month_label(month)}",
            )
        )
        summary.created += 1
        summary.by_operator[code] = summary.by_operator.get(code, 0) + 1
    session.flush()
    return summary


def rpa_operator_codes(session: Session) -> list[str]:
    """Operators whose invoices the RPA downloads (the operator partitions of `downloaded_invoices`)."""
    return list(
        session.scalars(
            select(Operator.code)
            .where(Operator.active.is_(True), Operator.has_rpa.is_(True))
            .order_by(Operator.code)
        )
    )


def status_counts(session: Session, month: date, operator_code: str | None = None) -> dict[str, int]:
    query = select(InvoiceProcess.status).where(InvoiceProcess.billing_month == month_start(month))
    if operator_code:
        query = query.join(Operator).where(Operator.code == operator_code)
    counts: dict[str, int] = {}
    for value in session.scalars(query):
        counts[value] = counts.get(value, 0) + 1
    return counts


# -- downloads ------------------------------------------------------------------------------------------------------
@dataclass
class DownloadSummary:
    month: date
    operator: str
    downloaded: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    skipped: int = 0


def _invoice_filename(process: InvoiceProcess, original: str) -> str:
    suffix = ""
    if "." in original:
        suffix = "." + re.sub(r"[^A-Za-z0-9]", "", original.rsplit(".", 1)[1])[:10]
    return f"{process.operator.code}-cliente{process.client_id}-processo{process.id}{suffix or '.pdf'}"


MAX_ATTEMPTS_ENV = "ROUTINES_INVOICES_MAX_ATTEMPTS"
DEFAULT_MAX_ATTEMPTS = 3


def max_download_attempts() -> int:
    """Download attempts per process before automatic retries stop (ROUTINES_INVOICES_MAX_ATTEMPTS, default 3)."""
    from routines.settings import env_int

    return env_int(MAX_ATTEMPTS_ENV, DEFAULT_MAX_ATTEMPTS, 1)


def download_is_due(max_attempts: int):
    """SQL condition: waiting for download, or failed with fewer than `max_attempts` attempts."""
    return or_(
        InvoiceProcess.status == Status.AGUARDANDO_DOWNLOAD.value,
        and_(
            InvoiceProcess.status == Status.FALHA_DOWNLOAD.value,
            InvoiceProcess.download_attempts < max_attempts,
        ),
    )


@dataclass(frozen=True)
class PendingDownload:
    process_id: int
    billing_month: date
    operator_code: str
    status: str
    attempts: int


def pending_downloads(session: Session, max_attempts: int) -> list[PendingDownload]:
    """Processes whose download should be requested again (the nightly re-download): AGUARDANDO_DOWNLOAD, or
    FALHA_DOWNLOAD with fewer than `max_attempts` attempts, of active operators with RPA."""
    rows = session.execute(
        select(
            InvoiceProcess.id,
            InvoiceProcess.billing_month,
            Operator.code,
            InvoiceProcess.status,
            InvoiceProcess.download_attempts,
        )
        .join(Operator, Operator.id == InvoiceProcess.operator_id)
        .where(Operator.active.is_(True), Operator.has_rpa.is_(True), download_is_due(max_attempts))
        .order_by(InvoiceProcess.billing_month, Operator.code, InvoiceProcess.id)
    ).all()
    return [PendingDownload(*row) for row in rows]


def notify_exhausted_downloads(session: Session, process_ids: list[int], max_attempts: int) -> list[int]:
    """Processes among `process_ids` that failed their last allowed download attempt: their company's operators
    are notified, once per process. Returns those processes' ids."""
    from routines.companies.users import users_with_role
    from routines.notifications.service import notify_users

    processes = session.scalars(
        select(InvoiceProcess)
        .where(
            InvoiceProcess.id.in_(process_ids),
            InvoiceProcess.status == Status.FALHA_DOWNLOAD.value,
            InvoiceProcess.download_attempts >= max_attempts,
        )
        .order_by(InvoiceProcess.id)
    ).all()
    for process in processes:
        client = process.client
        where = f"{client.name} / {process.operator.code}, competência {month_label(process.billing_month)}"
        notify_users(
            session,
            users_with_role(session, client.company_id, "operator"),
            kind="warning",
            title=f"Download da fatura falhou {process.download_attempts} vezes: {where}",
            message=(
                f"O processo {process.id} ({where}) falhou no download {process.download_attempts} vez(es) e não "
                f"será mais tentado automaticamente. Último erro: {process.error or 'sem mensagem'}. Anexe a "
                f"fatura (`routines invoices attach {process.id} ARQUIVO`) ou peça uma nova tentativa "
                f"(`routines invoices retry {process.id}`)."
            ),
            dedup_key=f"invoices:download-exhausted:{process.id}",
        )
    return [process.id for process in processes]


def rpa_payload(process: InvoiceProcess) -> dict:
    return {
        "processo_id": process.id,
        "competencia": month_label(process.billing_month),
        "empresa": process.client.company.code,
        "cliente": {"id": process.client_id, "nome": process.client.name, "cnpj": process.client.cnpj},
        "rpa_terceirizado": process.operator.outsourced_rpa,
    }


def download_partition(
    engine: Engine,
    store: FileStore,
    rpa: RpaClient,
    month: date,
    operator_code: str,
    actor: str,
    log: Log = lambda message: None,
    retry_failed: bool = True,
    leases: RpaLeases | None = None,
    max_attempts: int | None = None,
) -> DownloadSummary:
    """Download, one RPA job at a time, the invoices of `operator_code` for `month` that wait for download.

    Each process is committed on its own once its job ended: AGUARDANDO_APROVACAO with the stored file, or
    FALHA_DOWNLOAD with the error and the job's last log lines. HTTP errors that survive the in-process retries
    (token rejected, 5xx...) propagate and leave the current process in AGUARDANDO_DOWNLOAD. A FALHA_DOWNLOAD
    process is retried only below `max_attempts` attempts (ROUTINES_INVOICES_MAX_ATTEMPTS).
    """
    month = month_start(month)
    summary = DownloadSummary(month=month, operator=operator_code)
    wanted = [Status.AGUARDANDO_DOWNLOAD.value] + ([Status.FALHA_DOWNLOAD.value] if retry_failed else [])
    max_attempts = max_download_attempts() if max_attempts is None else max_attempts
    with session_scope(engine) as session:
        operator = session.scalar(select(Operator).where(Operator.code == operator_code))
        if operator is None:
            raise UserError(f"unknown operator {operator_code!r}")
        if not operator.has_rpa or not operator.rpa_endpoint_name:
            raise UserError(
                f"operator {operator_code} has no RPA endpoint configured (has_rpa/rpa_endpoint_name)"
            )
        endpoint = operator.rpa_endpoint_name
        ids = list(
            session.scalars(
                select(InvoiceProcess.id)
                .where(
                    InvoiceProcess.billing_month == month,
                    InvoiceProcess.operator_id == operator.id,
                    InvoiceProcess.status.in_(wanted),
                    download_is_due(max_attempts),
                )
                .order_by(InvoiceProcess.id)
            )
        )
    log(f"{operator_code} {month_label(month)}: {len(ids)} fatura(s) a baixar")
    for process_id in ids:
        with session_scope(engine) as session:
            process = session.get(InvoiceProcess, process_id)
            exhausted = process.status == Status.FALHA_DOWNLOAD and process.download_attempts >= max_attempts
            if process.status not in wanted or exhausted:  # moved by someone else meanwhile
                summary.skipped += 1
                continue
            # a job noted on a waiting process belongs to a run that was killed while following it: resume it
            resume_job_id = process.job_id if process.status == Status.AGUARDANDO_DOWNLOAD else None
            if process.status == Status.FALHA_DOWNLOAD:
                transition(session, process, Status.AGUARDANDO_DOWNLOAD, actor, "nova tentativa de download")
            process.download_attempts += 1
            payload = rpa_payload(process)
            client_name = process.client.name

        def started(job_id: str, process_id: int = process_id, client_name: str = client_name) -> None:
            with session_scope(engine) as session:
                session.execute(
                    update(InvoiceProcess).where(InvoiceProcess.id == process_id).values(job_id=job_id)
                )
            log(f"processo {process_id} ({client_name}): job RPA {job_id} iniciado")

        def on_log(line: str, process_id: int = process_id) -> None:
            log(f"[RPA processo {process_id}] {line}")

        if leases is None:
            result = rpa.run_job(
                endpoint, payload, on_log=on_log, on_started=started, resume_job_id=resume_job_id
            )
        else:
            waiting = (
                f"processo {process_id}: aguardando vaga no RPA (limite {leases.limit} jobs em andamento)"
            )
            with leases.slot(on_wait=lambda message=waiting: log(message)) as lease:
                result = rpa.run_job(
                    endpoint,
                    payload,
                    on_log=on_log,
                    on_started=started,
                    on_poll=lease.renew,
                    resume_job_id=resume_job_id,
                )
        last_lines = "\n".join(result.last_lines) or None
        with session_scope(engine) as session:
            process = session.get(InvoiceProcess, process_id)
            if process.status != Status.AGUARDANDO_DOWNLOAD:  # e.g. a file attached by hand meanwhile
                summary.skipped += 1
                log(
                    f"processo {process_id}: já está em {process.status}; resultado do job {result.job_id} ignorado"
                )
                continue
            if result.ok:
                key = dated_key("invoices", month, _invoice_filename(process, result.filename or ""))
                stored = store.write_bytes(key, result.content or b"")
                if result.declared_sha256 and result.declared_sha256.lower() != stored.sha256:
                    error = f"sha256 do arquivo ({stored.sha256}) difere do informado pelo RPA ({result.declared_sha256})"
                    transition(
                        session,
                        process,
                        Status.FALHA_DOWNLOAD,
                        actor,
                        error,
                        job_id=result.job_id,
                        error=error,
                        last_log_lines=last_lines,
                    )
                    summary.failed.append({"process_id": process_id, "client": client_name, "error": error})
                    log(f"processo {process_id}: {error}")
                    continue
                transition(
                    session,
                    process,
                    Status.AGUARDANDO_APROVACAO,
                    actor,
                    f"fatura baixada pelo job {result.job_id}",
                    job_id=result.job_id,
                    file_key=stored.key,
                    file_sha256=stored.sha256,
                    file_size=stored.size,
                    error=None,
                    last_log_lines=last_lines,
                    # a new file needs a new decision: no approval or rejection of an earlier file carries over
                    approved_by=None,
                    approved_at=None,
                    rejected_by=None,
                    rejected_at=None,
                    rejection_reason=None,
                )
                summary.downloaded.append(
                    {
                        "process_id": process_id,
                        "client": client_name,
                        "key": stored.key,
                        "sha256": stored.sha256,
                        "size": stored.size,
                    }
                )
                log(f"processo {process_id}: fatura armazenada em {stored.key} ({stored.size} bytes)")
            else:
                transition(
                    session,
                    process,
                    Status.FALHA_DOWNLOAD,
                    actor,
                    result.error,
                    job_id=result.job_id,
                    error=result.error,
                    last_log_lines=last_lines,
                )
                summary.failed.append(
                    {"process_id": process_id, "client": client_name, "error": result.error}
                )
                log(f"processo {process_id}: falha no download: {result.error}")
    return summary


# -- approval ---------------------------------------------------------------------------------------------------------
def _get_process(session: Session, process_id: int) -> InvoiceProcess:
    process = session.get(InvoiceProcess, process_id)
    if process is None:
        raise UserError(f"invoice process {process_id} does not exist")
    return process


def approve(session: Session, process_id: int, by: str, at: datetime | None = None) -> InvoiceProcess:
    process = _get_process(session, process_id)
    if process.status != Status.AGUARDANDO_APROVACAO:
        raise UserError(
            f"invoice process {process_id} is {process.status}: only AGUARDANDO_APROVACAO can be approved"
        )
    at = at or utcnow()
    transition(
        session,
        process,
        Status.AGUARDANDO_ENVIO_SAT,
        user_actor(by),
        "fatura aprovada",
        approved_by=by,
        approved_at=at,
    )
    return process


def reject(
    session: Session, process_id: int, by: str, reason: str, at: datetime | None = None
) -> InvoiceProcess:
    if not reason or not reason.strip():
        raise UserError("a rejection needs a reason (--reason TEXT)")
    process = _get_process(session, process_id)
    if process.status != Status.AGUARDANDO_APROVACAO:
        raise UserError(
            f"invoice process {process_id} is {process.status}: only AGUARDANDO_APROVACAO can be rejected"
        )
    at = at or utcnow()
    transition(
        session,
        process,
        Status.REJEITADO,
        user_actor(by),
        f"fatura rejeitada: {reason.strip()}",
        rejected_by=by,
        rejected_at=at,
        rejection_reason=reason.strip(),
    )
    return process


def retry(session: Session, process_id: int, by: str) -> InvoiceProcess:
    """Send a failed or rejected process back: FALHA_DOWNLOAD/REJEITADO -> AGUARDANDO_DOWNLOAD,
    FALHA_ENVIO_SAT -> AGUARDANDO_ENVIO_SAT."""
    process = _get_process(session, process_id)
    if process.status in (Status.FALHA_DOWNLOAD, Status.REJEITADO):
        transition(
            session,
            process,
            Status.AGUARDANDO_DOWNLOAD,
            user_actor(by),
            "novo download solicitado",
            job_id=None,
            approved_by=None,
            approved_at=None,
            rejected_by=None,
            rejected_at=None,
            rejection_reason=None,
        )
    elif process.status == Status.FALHA_ENVIO_SAT:
        transition(
            session, process, Status.AGUARDANDO_ENVIO_SAT, user_actor(by), "novo envio ao SAT solicitado"
        )
    else:
        raise UserError(
            f"invoice process {process_id} is {process.status}: only FALHA_DOWNLOAD, REJEITADO or FALHA_ENVIO_SAT "
            "can be retried"
        )
    return process


def attach_file(session: Session, store: FileStore, process_id: int, path: str, by: str) -> InvoiceProcess:
    """An invoice downloaded by hand (operators without RPA, or an RPA that keeps failing): stored like the RPA's
    files and the process moved to AGUARDANDO_APROVACAO, in one transaction."""
    from pathlib import Path

    source = Path(path)
    if not source.is_file():
        raise UserError(f"{path}: file not found")
    content = source.read_bytes()
    if not content:
        raise UserError(f"{path}: the file is empty")
    process = _get_process(session, process_id)
    actor = user_actor(by)
    if process.status == Status.FALHA_DOWNLOAD:
        transition(session, process, Status.AGUARDANDO_DOWNLOAD, actor, "fatura anexada manualmente")
    if process.status != Status.AGUARDANDO_DOWNLOAD:
        raise UserError(
            f"invoice process {process_id} is {process.status}: a file can only be attached while waiting for download"
        )
    key = dated_key("invoices", process.billing_month, _invoice_filename(process, source.name))
    stored = store.write_bytes(key, content)
    transition(
        session,
        process,
        Status.AGUARDANDO_APROVACAO,
        actor,
        f"fatura anexada manualmente ({source.name})",
        file_key=stored.key,
        file_sha256=stored.sha256,
        file_size=stored.size,
        error=None,
        approved_by=None,
        approved_at=None,
        rejected_by=None,
        rejected_at=None,
        rejection_reason=None,
    )
    return process


def apply_recorded_decisions(session: Session) -> list[tuple[int, str]]:
    """Decisions the business application wrote in the approval columns of processes still AGUARDANDO_APROVACAO:
    apply them through the state machine (actor = who decided). Returns (process id, new status) pairs."""
    applied: list[tuple[int, str]] = []
    pending = session.scalars(
        select(InvoiceProcess)
        .where(
            InvoiceProcess.status == Status.AGUARDANDO_APROVACAO.value,
            (InvoiceProcess.approved_at.is_not(None)) | (InvoiceProcess.rejected_at.is_not(None)),
        )
        .order_by(InvoiceProcess.id)
    ).all()
    for process in pending:
        rejected = process.rejected_at is not None and (
            process.approved_at is None or process.rejected_at >= process.approved_at
        )
        try:
            if rejected:
                reason = process.rejection_reason or "sem motivo informado"
                transition(
                    session,
                    process,
                    Status.REJEITADO,
                    user_actor(process.rejected_by or "aplicação"),
                    f"fatura rejeitada: {reason}",
                )
            else:
                transition(
                    session,
                    process,
                    Status.AGUARDANDO_ENVIO_SAT,
                    user_actor(process.approved_by or "aplicação"),
                    "fatura aprovada",
                )
        except ConcurrentChange:  # decided meanwhile on the command line: that decision stands
            continue
        applied.append((process.id, process.status))
    return applied


def transitions_after(
    session: Session, cursor: int, to_status: Status
) -> list[tuple[int, int, date, str, str | None, str]]:
    """Transitions into `to_status` with id > cursor: (transition id, process id, month, operator code, from, actor)."""
    return [
        tuple(row)
        for row in session.execute(
            select(
                ProcessTransition.id,
                ProcessTransition.process_id,
                InvoiceProcess.billing_month,
                Operator.code,
                ProcessTransition.from_status,
                ProcessTransition.actor,
            )
            .join(InvoiceProcess, InvoiceProcess.id == ProcessTransition.process_id)
            .join(Operator, Operator.id == InvoiceProcess.operator_id)
            .where(ProcessTransition.id > cursor, ProcessTransition.to_status == to_status.value)
            .order_by(ProcessTransition.id)
        ).all()
    ]


def last_transition_id(session: Session) -> int:
    return session.scalar(select(ProcessTransition.id).order_by(ProcessTransition.id.desc()).limit(1)) or 0


# -- SAT uploads ----------------------------------------------------------------------------------------------------
@dataclass
class UploadSummary:
    month: date
    uploaded: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    duplicates: int = 0


def sat_metadata(process: InvoiceProcess) -> dict:
    return {
        "competencia": month_label(process.billing_month),
        "empresa": {"codigo": process.client.company.code, "cnpj": process.client.company.cnpj},
        "cliente": {"id": process.client_id, "nome": process.client.name, "cnpj": process.client.cnpj},
        "operadora": process.operator.code,
        "processo_id": process.id,
    }


def upload_month(
    engine: Engine, store: FileStore, sat: SatClient, month: date, actor: str, log: Log = lambda message: None
) -> UploadSummary:
    """Upload every AGUARDANDO_ENVIO_SAT invoice of `month` with its idempotency key; each process committed alone.

    Success -> UPLOAD_REALIZADO with the SAT protocol. A fatal answer for one invoice (other 4xx, missing file) ->
    FALHA_ENVIO_SAT with the error. Token rejected and retryable errors propagate (the process stays put).
    """
    month = month_start(month)
    summary = UploadSummary(month=month)
    with session_scope(engine) as session:
        ids = list(
            session.scalars(
                select(InvoiceProcess.id)
                .where(
                    InvoiceProcess.billing_month == month,
                    InvoiceProcess.status == Status.AGUARDANDO_ENVIO_SAT.value,
                )
                .order_by(InvoiceProcess.id)
            )
        )
    log(f"{month_label(month)}: {len(ids)} fatura(s) a enviar ao SAT")
    for process_id in ids:
        with session_scope(engine) as session:
            process = session.get(InvoiceProcess, process_id)
            if process.status != Status.AGUARDANDO_ENVIO_SAT:
                continue
            error = None
            if not process.file_key or not store.exists(process.file_key):
                error = f"arquivo da fatura não encontrado no file store: {process.file_key!r}"
            if error is None and not process.sat_idempotency_key:
                # Fixed before the first attempt and kept: every retry and re-run sends the same key.
                process.sat_idempotency_key = idempotency_key(process.id, process.file_sha256 or "")
            key = process.sat_idempotency_key
            if error:
                transition(session, process, Status.FALHA_ENVIO_SAT, actor, error, error=error)
                summary.failed.append({"process_id": process_id, "error": error})
                log(f"processo {process_id}: {error}")
                continue
            metadata = sat_metadata(process)
            file_key = process.file_key
            filename = file_key.rsplit("/", 1)[-1]
        content = store.read_bytes(file_key)
        try:
            receipt = sat.upload(key, metadata, filename, content)
        except RetryableHttpError:
            raise
        except HttpError as exc:
            if exc.status in (401, 403):
                raise
            with session_scope(engine) as session:
                process = session.get(InvoiceProcess, process_id)
                transition(session, process, Status.FALHA_ENVIO_SAT, actor, str(exc), error=str(exc))
            summary.failed.append({"process_id": process_id, "error": str(exc)})
            log(f"processo {process_id}: envio ao SAT recusado: {exc}")
            continue
        with session_scope(engine) as session:
            process = session.get(InvoiceProcess, process_id)
            transition(
                session,
                process,
                Status.UPLOAD_REALIZADO,
                actor,
                f"enviada ao SAT, protocolo {receipt.protocol}",
                sat_protocol=receipt.protocol,
                uploaded_at=utcnow(),
                error=None,
            )
        summary.duplicates += int(receipt.duplicate)
        summary.uploaded.append({"process_id": process_id, "protocol": receipt.protocol, "key": key})
        log(
            f"processo {process_id}: enviado ao SAT, protocolo {receipt.protocol}"
            + (" (já recebido)" if receipt.duplicate else "")
        )
    return summary
