"""Invoice processes in the business database: creation, transitions, downloads, decisions, SAT uploads.

No Dagster here: the assets, sensors and the CLI call these functions. Every status change goes through
`transition()` (checked by the state machine, guarded against concurrent changes, recorded with time, actor and
reason in the same transaction). Downloads and uploads commit each process on its own, after the external call
succeeded: a run killed midway leaves every process either untouched or completely moved, and re-running resumes.
RPA downloads run up to the job limit at once, each job under a lease of `routines.invoices.leases`.
"""

from __future__ import annotations

import queue
import re
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from routines.database.base import utcnow
from routines.database.engine import session_scope
from routines.errors import ConflictError, UserError
from routines.files import FileStore, dated_key
from routines.http import HttpError, OutcomeUnknown, RetryableHttpError
from routines.invoices import status as sm
from routines.invoices.leases import Busy, Lease, LeaseLost, RpaLeases
from routines.invoices.models import (
    Client,
    ClientOperator,
    InvoiceProcess,
    Operator,
    ProcessTransition,
    RpaLease,
)
from routines.invoices.rpa import JobResult, RpaClient
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
    skipped: int = 0  # moved by someone else meanwhile
    busy: list[dict] = field(default_factory=list)  # claimed by another run, or its last job may still run


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
    *,
    leases: RpaLeases,
    max_attempts: int | None = None,
) -> DownloadSummary:
    """Download the invoices of `operator_code` for `month` that wait for download, up to `leases.limit` RPA jobs
    at once (each job in its own thread, under its own lease; every run shares the same limit).

    Each job is started only once its process is claimed (its lease names it), and each process is committed on
    its own once its job ended: AGUARDANDO_APROVACAO with the stored file, or FALHA_DOWNLOAD with the error and
    the job's last log lines. A job the client stops following (timeout, run interrupted, errors) keeps its slot
    until the RPA says it ended. A start the RPA may have received without answering is not repeated: the
    process goes to FALHA_DOWNLOAD and nothing more is started by this run. Fatal errors (token rejected, ...)
    stop new starts, let the jobs in flight end, then propagate; so does a lost slot (`LeaseLost`). `log` is
    called on the calling thread only. A FALHA_DOWNLOAD
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
    log(
        f"{operator_code} {month_label(month)}: {len(ids)} fatura(s) a baixar, até {leases.limit} job(s) RPA ao "
        "mesmo tempo (limite compartilhado por todas as execuções)"
    )
    _PartitionDownload(engine, store, rpa, endpoint, actor, wanted, leases, summary, log, max_attempts).run(
        ids
    )
    return summary


class _Stop(Exception):
    """Nothing more may be started (or followed, when the run is interrupted)."""


_CLAIMED_ELSEWHERE = object()  # the process was claimed by another lease


class _PartitionDownload:
    """The jobs of one partition: the calling thread takes slots (leases) and logs; one thread per slot follows
    its job, then keeps the slot for the next waiting process while its job ended (one compare-and-set instead
    of giving the slot back and taking it again)."""

    def __init__(self, engine, store, rpa, endpoint, actor, wanted, leases, summary, log, max_attempts):
        self.engine: Engine = engine
        self.store: FileStore = store
        self.rpa: RpaClient = rpa
        self.endpoint: str = endpoint
        self.actor: str = actor
        self.wanted: list[str] = wanted
        self.leases: RpaLeases = leases
        self.summary: DownloadSummary = summary
        self.log = log
        self.max_attempts: int = max_attempts
        self.messages: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # None only wakes the dispatcher
        self.lock = threading.Lock()
        self.pending: deque[int] = deque()  # processes no slot has taken yet
        self.no_more_starts: str | None = None  # why nothing more is started
        self.interrupted = threading.Event()  # stop following too: the run is being stopped
        # the first job goes alone until the RPA accepted it: a refused token or an RPA that is down costs one
        # request, not one per slot
        self.answered = threading.Event()
        self.lost: LeaseLost | None = None
        self.reported: set[int] = set()

    # -- the calling thread -------------------------------------------------------------------------------------
    def run(self, ids: list[int]) -> None:
        self.pending.extend(ids)
        slots = max(1, min(self.leases.limit, len(ids)))
        running: set[Future] = set()
        errors: list[BaseException] = []
        waiting = False
        with self.leases.heartbeat(on_lost=self.slot_lost, on_error=self.heartbeat_failed):
            pool = ThreadPoolExecutor(slots, thread_name_prefix="rpa-job")
            try:
                while True:
                    for future in [future for future in running if future.done()]:
                        running.discard(future)
                        if future.exception() is not None:
                            errors.append(future.exception())
                            self.stop_starting(f"erro: {future.exception()}")
                    with self.lock:
                        left = len(self.pending)
                    if not left and not running:
                        break
                    if left and self.no_more_starts:
                        with self.lock:
                            self.pending.clear()
                        self.say(f"{left} processo(s) não iniciado(s) nesta execução: {self.no_more_starts}")
                        continue
                    # one more slot while some process waits; the first job goes alone until the RPA answered
                    if left and len(running) < slots and (not running or self.answered.is_set()):
                        process_id = self.next_pending()
                        if process_id is None:  # taken by a slot of this run meanwhile, or stopping
                            continue
                        taken = self.leases.take(process_id)
                        if isinstance(taken, Lease):
                            running.add(pool.submit(self.follow, taken))
                            waiting = False
                            continue
                        if isinstance(taken, Busy):
                            self.summary.busy.append({"process_id": process_id, "reason": taken.describe()})
                            self.say(f"processo {process_id}: {taken.describe()}")
                            continue
                        self.give_back(process_id)
                        freed = self.leases.free_ended_jobs(
                            self.rpa.job_has_ended, every=self.rpa.max_poll_interval
                        )
                        if freed:
                            self.say(
                                f"vaga(s) liberada(s): o RPA informou o fim do(s) job(s) {', '.join(freed)}"
                            )
                            continue
                        if not waiting:
                            self.say(
                                f"processo {process_id}: aguardando vaga no RPA (limite {self.leases.limit} jobs "
                                "em andamento)"
                            )
                            waiting = True
                    self.pump(self.leases.poll_interval)
            except BaseException:
                self.interrupted.set()  # e.g. the run is terminated: the threads stop following, leases stay
                raise
            finally:
                pool.shutdown(wait=True)
                self.pump(0)
        if self.lost is not None:
            raise self.lost
        if errors:
            raise errors[0]

    def next_pending(self) -> int | None:
        with self.lock:
            if self.no_more_starts or self.interrupted.is_set() or not self.pending:
                return None
            return self.pending.popleft()

    def give_back(self, process_id: int) -> None:
        with self.lock:
            self.pending.appendleft(process_id)

    def pump(self, timeout: float) -> None:
        """Log what the job threads said, waiting up to `timeout` seconds for something to happen. Messages that
        queued up meanwhile go out as one multi-line entry: a run log write can be slower than the jobs talk, and
        slots must be handed out again without waiting for a backlog of log lines."""
        batch: list[str] = []
        try:
            message = self.messages.get(timeout=timeout) if timeout > 0 else self.messages.get_nowait()
            while True:
                if message is not None:
                    batch.append(message)
                message = self.messages.get_nowait()
        except queue.Empty:
            pass
        if batch:
            self.log("\n".join(batch))

    # -- any thread ---------------------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        self.messages.put(message)

    def stop_starting(self, reason: str) -> None:
        with self.lock:
            self.no_more_starts = self.no_more_starts or reason

    def slot_lost(self, exc: LeaseLost) -> None:
        with self.lock:
            if id(exc) in self.reported:
                return
            self.reported.add(id(exc))
            self.lost = self.lost or exc
        self.stop_starting(str(exc))
        self.say(str(exc))

    def heartbeat_failed(self, exc: Exception) -> None:
        self.say(f"renovação das vagas do RPA falhou (nova tentativa em seguida): {exc}")

    # -- one job thread per lease -------------------------------------------------------------------------------
    def follow(self, lease: Lease) -> None:
        """One slot: its process's job, then, while the slot is free again and processes wait, theirs."""
        try:
            process_id, claim = lease.process_id, False
            while self.download(process_id, lease, claim):
                process_id, claim = self.next_pending(), True
                if process_id is None:
                    self.let_go(lease)
                    return
        finally:
            self.answered.set()
            self.messages.put(None)

    def let_go(self, lease: Lease, job_may_still_run: bool = False) -> None:
        try:
            if job_may_still_run:
                lease.abandon()
            else:
                lease.release()
        except LeaseLost as exc:
            self.slot_lost(exc)

    def download(self, process_id: int, lease: Lease, claim: bool) -> bool:
        """Download one process under `lease` (claiming it first when `claim`). True when the slot may take
        another job (the job ended, or none was started); otherwise the slot is given back (released, or left to
        a job that may still run: abandoned) and False."""
        job = {
            "running": lease.adopted,
            "ended": False,
        }  # a job (maybe) runs under the slot / the RPA says it ended
        done = {"keep": False}
        try:
            self.download_one(process_id, lease, claim, job, done)
        except _Stop as exc:
            self.say(f"processo {process_id}: {exc}")
        except LeaseLost as exc:
            self.slot_lost(exc)
        finally:
            may_run = job["running"] and not job["ended"]
            keep = done["keep"] and not may_run and lease.lost is None
            if not keep:
                self.let_go(lease, job_may_still_run=may_run)
        return keep

    def download_one(self, process_id: int, lease: Lease, claim: bool, job: dict, done: dict) -> None:
        prepared = self.prepare(process_id, lease, claim)
        if prepared is _CLAIMED_ELSEWHERE:  # the dispatcher sees to it
            self.give_back(process_id)
            return
        if prepared is None:
            done["keep"] = True
            return
        payload, client_name, resume_job_id = prepared

        def before_start() -> None:  # only when a job to follow again turned out to be over
            job["running"] = False
            if self.interrupted.is_set() or self.no_more_starts:
                raise _Stop(self.no_more_starts or "execução interrompida")
            lease.starting()

        def started(job_id: str) -> None:
            job["running"] = True
            with session_scope(self.engine) as session:
                session.execute(
                    update(InvoiceProcess).where(InvoiceProcess.id == process_id).values(job_id=job_id)
                )
                lease.started(session, job_id)
            self.say(f"processo {process_id} ({client_name}): job RPA {job_id} iniciado")
            if lease.lost is not None:  # nothing more starts; this job runs anyway, so it is still followed
                self.slot_lost(lease.lost)

        def resumed(job_id: str) -> None:
            job["running"] = True
            lease.following(job_id)
            self.say(f"processo {process_id} ({client_name}): acompanhando o job RPA {job_id}")

        def on_poll() -> None:
            self.answered.set()
            if self.interrupted.is_set():
                raise _Stop("execução interrompida; o job segue no RPA e será retomado pela próxima execução")

        def on_ended(status: str) -> None:
            job["ended"] = True

        try:
            result = self.rpa.run_job(
                self.endpoint,
                payload,
                on_log=lambda line: self.say(f"[RPA processo {process_id}] {line}"),
                on_started=started,
                on_poll=on_poll,
                resume_job_id=resume_job_id,
                before_start=before_start,
                on_resumed=resumed,
                on_ended=on_ended,
                job_timeout=lease.seconds_left(self.rpa.job_timeout) if lease.adopted else None,
                pause=self.interrupted.wait,
            )
        except OutcomeUnknown as exc:
            job["running"] = True  # maybe: its slot stays taken until such a job would have ended
            self.record_unknown_start(process_id, client_name, lease, exc)
            return
        self.record(process_id, client_name, result, lease)
        done["keep"] = True

    def prepare(
        self, process_id: int, lease: Lease, claim: bool
    ) -> tuple[dict, str, str | None] | object | None:
        """In one transaction: claim the process for `lease` (when `claim`), check that it still waits, and,
        unless a job of it is to be followed again, mark the slot as counting the job about to start. Returns the
        payload, client name and job to follow; None when the process is not to be downloaded any more; or
        _CLAIMED_ELSEWHERE."""
        try:
            with session_scope(self.engine) as session:
                if claim:
                    lease.claim(process_id, session)
                process = session.get(InvoiceProcess, process_id)
                exhausted = (
                    process.status == Status.FALHA_DOWNLOAD and process.download_attempts >= self.max_attempts
                )
                if process.status not in self.wanted or exhausted:  # moved by someone else meanwhile
                    with self.lock:
                        self.summary.skipped += 1
                    return None
                if lease.adopted and lease.job_id != process.job_id:
                    # sent back for a new download while its last job may still run: that one must end first
                    reason = f"o job anterior {lease.job_id} pode estar em andamento no RPA; nenhum job novo é iniciado"
                    self.summary.busy.append({"process_id": process_id, "reason": reason})
                    self.say(f"processo {process_id}: {reason}")
                    return None
                # a job taken over from a holder that stopped following it, or noted on a waiting process by a run
                # that was killed while following it: follow it (or fetch its file) instead of starting another
                if lease.adopted:
                    resume_job_id = lease.job_id
                else:
                    resume_job_id = process.job_id if process.status == Status.AGUARDANDO_DOWNLOAD else None
                if resume_job_id is None and (self.interrupted.is_set() or self.no_more_starts):
                    raise _Stop(self.no_more_starts or "execução interrompida")
                if process.status == Status.FALHA_DOWNLOAD:
                    transition(
                        session, process, Status.AGUARDANDO_DOWNLOAD, self.actor, "nova tentativa de download"
                    )
                process.download_attempts += 1
                if resume_job_id is None:
                    lease.starting(session)
                return rpa_payload(process), process.client.name, resume_job_id
        except IntegrityError:
            return _CLAIMED_ELSEWHERE

    def fail(
        self, session: Session, process: InvoiceProcess, client_name: str, error: str, **changes
    ) -> None:
        transition(session, process, Status.FALHA_DOWNLOAD, self.actor, error, error=error, **changes)
        self.summary.failed.append({"process_id": process.id, "client": client_name, "error": error})

    def record(self, process_id: int, client_name: str, result: JobResult, lease: Lease) -> None:
        last_lines = "\n".join(result.last_lines) or None
        with session_scope(self.engine) as session:
            process = session.get(InvoiceProcess, process_id)
            if process.status != Status.AGUARDANDO_DOWNLOAD:  # e.g. a file attached by hand meanwhile
                with self.lock:
                    self.summary.skipped += 1
                self.say(
                    f"processo {process_id}: já está em {process.status}; resultado do job {result.job_id} ignorado"
                )
                return
            if not result.ok:
                error = result.error or f"job {result.job_id} falhou"
                if result.status == "TIMEOUT" and lease.job_deadline is not None:
                    error += (
                        "; a vaga no RPA segue reservada até o job terminar (no máximo até "
                        f"{lease.job_deadline:%d/%m/%Y %H:%M} UTC)"
                    )
                self.fail(
                    session, process, client_name, error, job_id=result.job_id, last_log_lines=last_lines
                )
                self.say(f"processo {process_id}: falha no download: {error}")
                return
            key = dated_key(
                "invoices", process.billing_month, _invoice_filename(process, result.filename or "")
            )
            stored = self.store.write_bytes(key, result.content or b"")
            if result.declared_sha256 and result.declared_sha256.lower() != stored.sha256:
                error = f"sha256 do arquivo ({stored.sha256}) difere do informado pelo RPA ({result.declared_sha256})"
                self.fail(
                    session, process, client_name, error, job_id=result.job_id, last_log_lines=last_lines
                )
                self.say(f"processo {process_id}: {error}")
                return
            transition(
                session,
                process,
                Status.AGUARDANDO_APROVACAO,
                self.actor,
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
        self.summary.downloaded.append(
            {
                "process_id": process_id,
                "client": client_name,
                "key": stored.key,
                "sha256": stored.sha256,
                "size": stored.size,
            }
        )
        self.say(f"processo {process_id}: fatura armazenada em {stored.key} ({stored.size} bytes)")

    def record_unknown_start(
        self, process_id: int, client_name: str, lease: Lease, exc: OutcomeUnknown
    ) -> None:
        """The RPA may have started a job it did not tell us about: the contract has no way to find it, so the
        process fails clearly, its slot stays taken until such a job would have ended, and nothing more starts."""
        until = f"{lease.job_deadline:%d/%m/%Y %H:%M} UTC" if lease.job_deadline else "o fim do prazo do job"
        error = (
            f"o pedido de início ao RPA pode ter iniciado um job ({exc}); não foi repetido para não duplicar; "
            f"a vaga no RPA fica reservada até {until}"
        )
        with session_scope(self.engine) as session:
            process = session.get(InvoiceProcess, process_id)
            if process.status == Status.AGUARDANDO_DOWNLOAD:
                self.fail(session, process, client_name, error, job_id=None, last_log_lines=None)
        self.say(f"processo {process_id}: {error}")
        self.stop_starting(f"o RPA não confirmou o início de um job ({exc})")


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
        lease = session.scalar(select(RpaLease).where(RpaLease.process_id == process_id))
        if lease is not None:
            until = (
                f" (its RPA slot is held until {lease.job_deadline:%Y-%m-%d %H:%M} UTC)"
                if lease.job_deadline
                else ""
            )
            raise UserError(
                f"invoice process {process_id}: its last RPA job {lease.job_id or '(id unknown)'} may still be "
                f"running{until}; retry once it ended, or attach the file by hand"
            )
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
