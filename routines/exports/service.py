"""The life of an export task (no Dagster): create, request a run, claim, progress, complete, fail, cancel,
retry. The CLI, the Dagster glue and (later) the business API call these functions.

Every status change is a compare-and-set UPDATE (`WHERE id = ... AND status = ... AND <run> = ...`): two runs,
a run and a person, or the sensor and a person can never both move a task. Notifications to the task's user are
written in the same transaction as the status they announce, under a dedup key, so they happen exactly once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, String, cast, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from routines import TIMEZONE
from routines.companies.models import Company, User
from routines.companies.users import company_by_code, find_user
from routines.database.base import utcnow
from routines.database.engine import session_scope
from routines.errors import UserError
from routines.exports.config import ExportsConfig
from routines.exports.context import CompanyRef, ExportContext, ExportOutput, UserRef
from routines.exports.models import ACTIVE_STATUSES, ExportTask
from routines.exports.registry import EXPORT_TYPES, export_type
from routines.files import FileStore
from routines.notifications.service import notify

logger = logging.getLogger(__name__)
TASK_FILES = "task_files"
MAX_ERROR_CHARS = 1000
Log = Callable[[str], None]


class TaskCancelled(Exception):
    """The task stopped being this run's while it ran (cancelled by a person, or taken over)."""


def one_line(exc: BaseException) -> str:
    """A failure as one clear line, no traceback: our own errors as they are, others with their type."""
    text = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
    text = re.sub(r"\s+", " ", text).strip() or type(exc).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def task_file_key(created_at: datetime, task_type: str, task_id: int, sha256: str, extension: str) -> str:
    """`task_files/YYYY/MM/<type>/<task id>_<sha8>.<ext>` (month of the request, São Paulo time)."""
    local = created_at.astimezone(ZoneInfo(TIMEZONE))
    return f"{TASK_FILES}/{local:%Y/%m}/{task_type}/{task_id}_{sha256[:8]}.{extension}"


def human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}".replace(".", ",")
        size /= 1024
    return f"{size} bytes"  # pragma: no cover


# -- creating, listing -------------------------------------------------------------------------------------------
def create_task(
    session: Session, *, task_type: str, user: User | str | int, payload: dict | str | None, priority: int = 0
) -> ExportTask:
    """A new pending task of `user` (and their company). The payload is validated now: PayloadError names the
    field. The business application may instead INSERT the row itself (validated when it runs)."""
    kind = export_type(task_type)
    owner = user if isinstance(user, User) else find_user(session, user)
    if not owner.active:
        raise UserError(f"user {owner.email} is disabled")
    parsed = kind.parse(payload)
    if kind.check is not None:
        kind.check(session, owner.company_id, parsed)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise UserError(f"priority {priority!r}: expected a whole number (higher runs first)")
    task = ExportTask(
        task_type=kind.name,
        status="pending",
        progress=0,
        payload=parsed.model_dump(mode="json", exclude_none=True),
        user_id=owner.id,
        company_id=owner.company_id,
        priority=priority,
        attempts=0,
        run_cancel_requested=False,
        created_at=utcnow(),
    )
    session.add(task)
    session.flush()
    return task


def get_task(session: Session, task_id: int) -> ExportTask:
    task = session.get(ExportTask, task_id)
    if task is None:
        raise UserError(f"no export task with id {task_id}")
    return task


def list_tasks(
    session: Session,
    *,
    user_id: int | None = None,
    company_code: str | None = None,
    status: str | None = None,
    is_file_task: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[ExportTask]:
    """Newest first. `is_file_task`: only the tasks that produced a file (True) or none (False)."""
    query = select(ExportTask).order_by(ExportTask.id.desc()).limit(limit).offset(offset)
    if is_file_task is not None:
        has_file = ExportTask.file_key.is_not(None)
        query = query.where(has_file if is_file_task else ~has_file)
    if user_id is not None:
        query = query.where(ExportTask.user_id == user_id)
    if company_code:
        query = query.where(ExportTask.company_id == company_by_code(session, company_code).id)
    if status:
        query = query.where(ExportTask.status == status)
    return list(session.scalars(query))


def task_summary(session: Session, user_id: int) -> dict[str, int]:
    """The legacy summary of a user's tasks: total, one count per status, files_available (downloadable)."""
    t = ExportTask
    counts = dict.fromkeys(("pending", "processing", "completed", "failed", "cancelled"), 0)
    for status, count in session.execute(
        select(t.status, func.count()).where(t.user_id == user_id).group_by(t.status)
    ):
        counts[status] = count
    files = session.scalar(
        select(func.count())
        .select_from(t)
        .where(
            t.user_id == user_id,
            t.status == "completed",
            t.file_key.is_not(None),
            t.file_removed_at.is_(None),
        )
    )
    return {"total": sum(counts.values()), **counts, "files_available": files}


# -- runs: requested by the sensor, cancelled, reconciled --------------------------------------------------------
@dataclass(frozen=True)
class RunPlan:
    task_id: int
    run_key: str
    priority: int


def run_key_for(task_id: int, attempt: int) -> str:
    """The Dagster run key of a task's attempt: a task runs once per attempt (a retry is a new attempt)."""
    return f"export-{task_id}-{attempt}"


def request_pending(session: Session, now: datetime, config: ExportsConfig) -> list[RunPlan]:
    """Pending tasks to request a run for, most urgent first (at most `tick_batch`): the ones never requested
    (a new attempt and run key each) and the ones requested `rerequest_minutes` ago and still pending (the same
    run key again: Dagster starts no second run for a key it has seen). Marked as requested in `session`."""
    stale = now - timedelta(minutes=config.rerequest_minutes)
    t = ExportTask
    rows = session.execute(
        select(t.id, t.priority, t.attempts, t.dagster_run_key, t.requested_at)
        .where(t.status == "pending", or_(t.requested_at.is_(None), t.requested_at < stale))
        .order_by(t.priority.desc(), t.id)
        .limit(config.tick_batch)
    ).all()
    plans, new, again = [], [], []
    for task_id, priority, attempts, run_key, requested_at in rows:
        if requested_at is None or run_key is None:
            plans.append(RunPlan(task_id, run_key_for(task_id, attempts + 1), priority))
            new.append(task_id)
        else:
            plans.append(RunPlan(task_id, run_key, priority))
            again.append(task_id)
    # One statement per kind (a row-by-row executemany costs a round trip per task on PostgreSQL); the key is
    # computed by the database exactly as run_key_for does.
    next_key = literal("export-") + cast(t.id, String) + literal("-") + cast(t.attempts + 1, String)
    for start in range(0, len(new), 1000):
        session.execute(
            update(t)
            .where(t.id.in_(new[start : start + 1000]), t.status == "pending")
            .values(attempts=t.attempts + 1, dagster_run_key=next_key, requested_at=now)
            .execution_options(synchronize_session=False)
        )
    for start in range(0, len(again), 1000):
        session.execute(
            update(t)
            .where(t.id.in_(again[start : start + 1000]), t.status == "pending")
            .values(requested_at=now)
            .execution_options(synchronize_session=False)
        )
    return plans


@dataclass(frozen=True)
class RunToCancel:
    task_id: int
    run_key: str | None
    run_id: str | None
    requested_at: datetime | None


def runs_to_cancel(session: Session) -> list[RunToCancel]:
    """Runs of cancelled tasks that Dagster may still be running or holding in its queue."""
    t = ExportTask
    rows = session.execute(
        select(t.id, t.dagster_run_key, t.dagster_run_id, t.requested_at)
        .where(t.run_cancel_requested.is_(True))
        .order_by(t.id)
    ).all()
    return [RunToCancel(*row) for row in rows]


def runs_cancelled(session: Session, task_ids: list[int]) -> None:
    if task_ids:
        session.execute(
            update(ExportTask).where(ExportTask.id.in_(task_ids)).values(run_cancel_requested=False)
        )


# -- claiming, progress ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    state: str  # claimed | wait (no free slot) | skip (not this run's task any more)
    reason: str = ""
    task_type: str = ""
    payload: dict = field(default_factory=dict)
    user_id: int = 0
    company_id: int = 0
    created_at: datetime | None = None
    attempt: int = 0
    slot: int | None = None


def claim_task(
    engine: Engine,
    task_id: int,
    *,
    run_id: str,
    run_key: str,
    slots: int,
    previous_run_id: str | None = None,
    now: Callable[[], datetime] = utcnow,
) -> Claim:
    """pending -> processing for the run requested for it (its run key), holding one of `slots` slots.

    `previous_run_id`: the run this one re-executes (Dagster run retries); a task that run was processing is
    taken over. Returns `wait` when every slot is held (the caller waits and tries again) and `skip` when the
    task is no longer this run's (cancelled, finished, or claimed by another run)."""
    t = ExportTask
    with session_scope(engine) as session:
        task = session.get(t, task_id)
        if task is None:
            return Claim("skip", f"task {task_id} does not exist")
        takeover = (
            bool(previous_run_id) and task.status == "processing" and task.dagster_run_id == previous_run_id
        )
        if task.dagster_run_key != run_key or not (task.status == "pending" or takeover):
            return Claim("skip", f"task {task_id} is {task.status} and not waiting for this run ({run_key})")
        busy = set(session.scalars(select(t.slot).where(t.status == "processing", t.id != task_id)))
        snapshot = Claim(
            "claimed", task_type=task.task_type, payload=dict(task.payload or {}), user_id=task.user_id,
            company_id=task.company_id, created_at=task.created_at, attempt=task.attempts,
        )  # fmt: skip
        expected = (
            (t.status == "processing", t.dagster_run_id == previous_run_id)
            if takeover
            else (t.status == "pending",)
        )
    for slot in (s for s in range(slots) if s not in busy):
        try:
            with session_scope(engine) as session:
                changed = session.execute(
                    update(t)
                    .where(t.id == task_id, t.dagster_run_key == run_key, *expected)
                    .values(status="processing", slot=slot, dagster_run_id=run_id, started_at=now(), progress=0,
                            progress_message="Iniciando", error_message=None, finished_at=None)
                ).rowcount  # fmt: skip
        except IntegrityError:  # another run took this slot in between: try the next one
            continue
        if not changed:
            return Claim("skip", f"task {task_id} was changed by someone else before this run took it")
        return Claim(**{**snapshot.__dict__, "slot": slot})
    return Claim("wait", f"all {slots} slots of the exports pool are taken")


class ProgressReporter:
    """`reporter(done, total, message)`: progress of a running task, written to its row at most once every
    `interval` seconds (a few writes a second at most), and to `log` (the run log) each time it passes a tenth.

    Each write is a compare-and-set on (status processing, this run): when it changes nothing, the task was
    cancelled or taken over and TaskCancelled is raised, which stops the export at its next progress call."""

    HEARTBEAT = 5.0  # seconds: an unchanged progress is written again this often (to notice a cancel)

    def __init__(
        self,
        engine: Engine,
        task_id: int,
        run_id: str,
        interval: float,
        log: Log | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.engine, self.task_id, self.run_id = engine, task_id, run_id
        self.interval, self.log, self.clock = interval, log, clock
        self.percent, self.message = 0, ""
        self.writes = 0
        self._last_write = clock()
        self._last_tenth = 0

    def __call__(self, done: int, total: int, message: str) -> None:
        now = self.clock()
        if now - self._last_write < self.interval:
            return
        percent = max(self.percent, min(99, done * 100 // max(total, 1)))
        if (percent, message) == (self.percent, self.message) and now - self._last_write < self.HEARTBEAT:
            return
        self._write(percent, message[:500])
        self._last_write = now

    def _write(self, percent: int, message: str) -> None:
        t = ExportTask
        with session_scope(self.engine) as session:
            changed = session.execute(
                update(t)
                .where(t.id == self.task_id, t.status == "processing", t.dagster_run_id == self.run_id)
                .values(progress=percent, progress_message=message)
            ).rowcount
            if not changed:
                status = session.scalar(select(t.status).where(t.id == self.task_id))
                raise TaskCancelled(f"task {self.task_id} is {status or 'gone'}: stopped")
        self.writes += 1
        self.percent, self.message = percent, message
        if self.log is not None and percent // 10 != self._last_tenth:
            self._last_tenth = percent // 10
            self.log(f"tarefa {self.task_id}: {percent}% - {message}")


# -- finishing ---------------------------------------------------------------------------------------------------
def _finish_values(now: datetime) -> dict:
    return {"finished_at": now, "slot": None}


def complete_task(
    engine: Engine,
    store: FileStore,
    task_id: int,
    claim: Claim,
    output: ExportOutput,
    *,
    run_id: str,
    config: ExportsConfig,
    now: Callable[[], datetime] = utcnow,
) -> ExportTask:
    """Store the file (atomically, under its final key) and mark the task completed, notifying its user in the
    same transaction. If the task was cancelled meanwhile, the file is removed and TaskCancelled raised."""
    stored = None
    if output.data is not None:
        if not output.extension:
            raise ValueError(
                f"export {claim.task_type} returned a file without an extension: {output.file_name!r}"
            )
        digest = hashlib.sha256(output.data).hexdigest()
        key = task_file_key(claim.created_at, claim.task_type, task_id, digest, output.extension)
        stored = store.write_bytes(key, output.data)
    kind = export_type(claim.task_type)
    t = ExportTask
    with session_scope(engine) as session:
        changed = session.execute(
            update(t)
            .where(t.id == task_id, t.status == "processing", t.dagster_run_id == run_id)
            .values(
                status="completed", progress=100, progress_message=f"Concluída: {output.summary}"[:500],
                file_name=output.file_name if stored else None, file_key=stored.key if stored else None,
                file_size=stored.size if stored else None, file_sha256=stored.sha256 if stored else None,
                file_removed_at=None, result={"summary": output.summary, **output.result}, error_message=None,
                **_finish_values(now()),
            )
        ).rowcount  # fmt: skip
        if changed:
            task = session.get(t, task_id)
            session.refresh(task)
            user = session.get(User, task.user_id)
            if stored:
                notify(
                    session, kind="file_ready", user=user, company_id=task.company_id, task_id=task_id,
                    title=f"Arquivo pronto: {kind.title}",
                    message=f"{output.summary}. O arquivo {output.file_name} ({human_size(stored.size)}) está pronto para download.",
                    link_url=config.link_for(task_id), link_text="Baixar arquivo" if config.link_for(task_id) else None,
                    dedup_key=f"task:{task_id}:{claim.attempt}:done",
                )  # fmt: skip
            else:
                notify(
                    session, kind="task_completed", user=user, company_id=task.company_id, task_id=task_id,
                    title=f"Tarefa concluída: {kind.title}", message=f"{output.summary}.",
                    dedup_key=f"task:{task_id}:{claim.attempt}:done",
                )  # fmt: skip
            return task
    if stored is not None:
        stored.path.unlink(missing_ok=True)
    raise TaskCancelled(f"task {task_id} was cancelled before it completed: its file was discarded")


def fail_task(
    engine: Engine,
    task_id: int,
    error: str,
    *,
    run_id: str | None = None,
    run_key: str | None = None,
    now: Callable[[], datetime] = utcnow,
) -> bool:
    """Mark the task failed with `error` (one line) if it is still the given run's - processing by `run_id`,
    or pending for `run_key` - and notify its user once. Returns whether it changed the task."""
    t = ExportTask
    owned = []
    if run_id:
        owned.append((t.status == "processing") & (t.dagster_run_id == run_id))
    if run_key:
        owned.append((t.status.in_(ACTIVE_STATUSES)) & (t.dagster_run_key == run_key))
    if not owned:
        raise ValueError("fail_task needs the run id or the run key the task belongs to")
    error = error.strip() or "erro sem mensagem"
    with session_scope(engine) as session:
        changed = session.execute(
            update(t)
            .where(t.id == task_id, or_(*owned))
            .values(status="failed", error_message=error, progress_message="Falhou", **_finish_values(now()))
        ).rowcount
        if not changed:
            return False
        task = session.get(t, task_id)
        session.refresh(task)
        title = EXPORT_TYPES[task.task_type].title if task.task_type in EXPORT_TYPES else task.task_type
        notify(
            session, kind="task_failed", user=session.get(User, task.user_id), company_id=task.company_id,
            task_id=task_id, title=f"Falha na tarefa: {title}", message=f"A tarefa {task_id} ({title}) falhou: {error}",
            dedup_key=f"task:{task_id}:{task.attempts}:failed",
        )  # fmt: skip
    return True


def cancel_task(session: Session, task_id: int, now: datetime | None = None) -> ExportTask:
    """pending | processing -> cancelled. Its Dagster run (queued or running) is cancelled by the sensor."""
    task = get_task(session, task_id)
    if task.status not in ACTIVE_STATUSES:
        raise UserError(f"task {task_id} is {task.status}: only pending or processing tasks can be cancelled")
    t = ExportTask
    changed = session.execute(
        update(t)
        .where(t.id == task_id, t.status == task.status)
        .values(status="cancelled", progress_message="Cancelada", run_cancel_requested=task.dagster_run_key is not None,
                **_finish_values(now or utcnow()))
    ).rowcount  # fmt: skip
    if not changed:
        raise UserError(f"task {task_id} changed while being cancelled: look at it again")
    session.refresh(task)
    return task


def retry_task(session: Session, task_id: int) -> ExportTask:
    """failed | cancelled -> pending: a new attempt, with a new run."""
    task = get_task(session, task_id)
    if task.status not in ("failed", "cancelled"):
        raise UserError(f"task {task_id} is {task.status}: only failed or cancelled tasks can be retried")
    if task.run_cancel_requested:
        raise UserError(f"task {task_id}: its previous run is still being cancelled; try again in a minute")
    t = ExportTask
    changed = session.execute(
        update(t)
        .where(t.id == task_id, t.status == task.status, t.run_cancel_requested.is_(False))
        .values(status="pending", progress=0, progress_message=None, error_message=None, requested_at=None,
                dagster_run_key=None, dagster_run_id=None, started_at=None, finished_at=None, slot=None,
                file_name=None, file_key=None, file_size=None, file_sha256=None, file_removed_at=None, result=None)
    ).rowcount  # fmt: skip
    if not changed:
        raise UserError(f"task {task_id} changed while being retried: look at it again")
    session.refresh(task)
    return task


def run_ended(
    engine: Engine, task_id: int, *, run_id: str, run_key: str | None, outcome: str, error: str = ""
) -> bool:
    """A run of the task ended in Dagster as `failed` or `canceled` without finishing the task (killed worker,
    run monitoring, cancelled from the Dagster UI): settle the task. Returns whether it changed it."""
    if outcome == "failed":
        return fail_task(
            engine, task_id, error or "a execução no Dagster falhou", run_id=run_id, run_key=run_key
        )
    t = ExportTask
    owned = [(t.status == "processing") & (t.dagster_run_id == run_id)]
    if run_key:
        owned.append((t.status == "pending") & (t.dagster_run_key == run_key))
    with session_scope(engine) as session:
        changed = session.execute(
            update(t)
            .where(t.id == task_id, or_(*owned))
            .values(status="cancelled", progress_message="Execução cancelada no Dagster", **_finish_values(utcnow()))
        ).rowcount  # fmt: skip
        if changed:
            task = session.get(t, task_id)
            session.refresh(task)
            notify(
                session, kind="warning", user=session.get(User, task.user_id), company_id=task.company_id,
                task_id=task_id, title="Tarefa cancelada",
                message=f"A execução da tarefa {task_id} foi cancelada no Dagster; use 'tentar novamente' para refazê-la.",
                dedup_key=f"task:{task_id}:{task.attempts}:canceled",
            )  # fmt: skip
    return bool(changed)


# -- running one task (what the Dagster op does) ----------------------------------------------------------------
@dataclass
class TaskOutcome:
    status: str  # completed | failed | skipped
    message: str = ""
    task: ExportTask | None = None
    exception: BaseException | None = None
    progress_writes: int = 0


def execute_task(
    engine: Engine,
    store: FileStore,
    task_id: int,
    *,
    run_id: str,
    run_key: str,
    slots: int,
    previous_run_id: str | None = None,
    config: ExportsConfig | None = None,
    log: Log = logger.info,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = utcnow,
) -> TaskOutcome:
    """Claim the task (waiting for a free slot), run its type, store the file and complete it - or record the
    failure as one line and notify. Raises TaskCancelled when the task is cancelled while it runs."""
    config = config or ExportsConfig.from_env()
    waited = False
    while True:
        claim = claim_task(
            engine,
            task_id,
            run_id=run_id,
            run_key=run_key,
            slots=slots,
            previous_run_id=previous_run_id,
            now=now,
        )
        if claim.state != "wait":
            break
        if not waited:
            log(f"tarefa {task_id}: aguardando vaga no pool exports ({claim.reason})")
            waited = True
        sleep(config.slot_wait_seconds)
    if claim.state == "skip":
        return TaskOutcome("skipped", claim.reason)
    log(f"tarefa {task_id} ({claim.task_type}, tentativa {claim.attempt}) iniciada na vaga {claim.slot}")
    reporter = ProgressReporter(engine, task_id, run_id, config.progress_interval, log)
    try:
        kind = export_type(claim.task_type)
        payload = kind.parse(claim.payload)
        with session_scope(engine) as session:
            user, company = session.get(User, claim.user_id), session.get(Company, claim.company_id)
            if user is None or not user.active or user.company_id != claim.company_id:
                raise UserError(f"user {claim.user_id} is not an active user of company {claim.company_id}")
            if kind.check is not None:
                kind.check(session, claim.company_id, payload)
            context = ExportContext(
                engine=engine, store=store, task_id=task_id, now=now(), report_progress=reporter,
                company=CompanyRef(company.id, company.code, company.name, company.cnpj),
                user=UserRef(user.id, user.name, user.email),
            )  # fmt: skip
        output = kind.run(context, payload)
        task = complete_task(engine, store, task_id, claim, output, run_id=run_id, config=config, now=now)
    except TaskCancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the task, as one line
        message = one_line(exc)
        fail_task(engine, task_id, message, run_id=run_id, now=now)
        return TaskOutcome("failed", message, exception=exc, progress_writes=reporter.writes)
    return TaskOutcome("completed", output.summary, task=task, progress_writes=reporter.writes)
