"""A hard bound on the RPA jobs in flight, in the business database (pure: no Dagster).

Each RPA job holds a lease: a row of `invoice_rpa_leases` whose primary key is a slot number 0..limit-1, so
there are never more than `limit` rows (an insert is atomic on SQLite and PostgreSQL alike; the Dagster pool
`rpa` alone is not: its slot claims can let one op too many through). The row also names the process the job is
for, under a unique index: taking a lease claims the process, so two runs never start two jobs for one process.

A lease lives as long as its job may run on the RPA, not as long as its holder follows it:

- `expires_at` is the holder's heartbeat (renewed every ttl/3 by `RpaLeases.heartbeat`); once it passes, the
  holder is gone (killed) or gave up following, and another run may take the job over (`take` adopts the row);
- `job_deadline` is set right before `POST /executar` (job start + job timeout + grace): until then the job may
  run, whatever the holder does. The row is deleted when the RPA says the job ended (by its holder, or by a run
  waiting for a slot that asks the RPA about jobs nobody follows), when no job was started, or once both the
  heartbeat and the job deadline have passed.

Every time is the database's clock (`database_now`), never the worker's: a worker whose clock is wrong cannot
expire live leases. Every change is a compare-and-set on the lease's own token: a holder whose row is gone gets
`LeaseLost` and must start nothing more.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from routines.database.engine import session_scope
from routines.invoices.models import RpaLease


def database_now(session: Session) -> datetime:
    """The database server's current time (UTC, aware); SQLite's is the clock of the machine it runs on."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        value = session.scalar(text("select clock_timestamp()"))
    elif dialect == "sqlite":
        raw = session.scalar(text("select strftime('%Y-%m-%d %H:%M:%f', 'now')"))
        value = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S.%f")
    else:
        value = session.scalar(select(func.current_timestamp()))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LeaseLost(RuntimeError):
    """The holder's slot is no longer its own (taken by another worker or removed): it must start nothing more."""


@dataclass(frozen=True)
class Busy:
    """The process is claimed by another lease: a live holder follows it, or its last job may still run."""

    process_id: int
    holder: str
    job_id: str | None
    job_deadline: datetime | None
    live: bool

    def describe(self) -> str:
        if self.live:
            return f"em andamento em {self.holder}" + (f" (job {self.job_id})" if self.job_id else "")
        until = f" até {self.job_deadline:%d/%m/%Y %H:%M} UTC" if self.job_deadline else ""
        return f"um job anterior pode estar em andamento no RPA{until}; nenhum job novo é iniciado"


class Lease:
    """One slot of the limit, held for one process's RPA job."""

    def __init__(
        self,
        leases: RpaLeases,
        slot: int,
        token: str,
        process_id: int | None,
        job_id: str | None = None,
        job_started_at: datetime | None = None,
        job_deadline: datetime | None = None,
        adopted: bool = False,
    ):
        self.leases = leases
        self.slot = slot
        self.token = token
        self.process_id = process_id
        self.job_id = job_id
        self.job_started_at = job_started_at
        self.job_deadline = job_deadline
        self.adopted = adopted  # taken over from a holder that stopped following a job that may still run
        self.lost: LeaseLost | None = None

    def __repr__(self) -> str:
        return f"Lease(slot={self.slot}, process={self.process_id}, job={self.job_id})"

    @property
    def job_may_run(self) -> bool:
        """A job was (or may have been) started under this lease."""
        return self.job_deadline is not None

    def _set(self, session: Session, **values) -> None:
        """Compare-and-set on this lease's token; LeaseLost when the row is no longer ours."""
        if self.lost is not None:
            raise self.lost
        result = session.execute(
            update(RpaLease)
            .where(RpaLease.slot == self.slot, RpaLease.token == self.token)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise self._lose()

    def _lose(self) -> LeaseLost:
        if self.lost is None:
            self.lost = LeaseLost(
                f"{self.leases.holder} perdeu a vaga {self.slot} do RPA"
                + (f" (processo {self.process_id})" if self.process_id is not None else "")
                + ": outro worker a ocupa ou ela foi removida; nenhum job novo é iniciado"
            )
        self.leases._forget(self)
        return self.lost

    def renew(self) -> None:
        """Push the heartbeat to the database's now + ttl; raises LeaseLost when the slot is no longer ours."""
        with session_scope(self.leases.engine) as session:
            now = database_now(session)
            self._set(session, expires_at=now + timedelta(seconds=self.leases.ttl))

    @contextmanager
    def _transaction(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            yield session
            return
        with session_scope(self.leases.engine) as own:
            yield own

    def starting(self, session: Session | None = None) -> None:
        """Right before `POST /executar` (in the caller's transaction if given): from now on the slot counts a job
        that may run until the job deadline. Raises LeaseLost (and then nothing may be started) when the slot is
        no longer ours."""
        self._count_job(session, None)

    def following(self, job_id: str, session: Session | None = None) -> None:
        """A job started earlier (by a run that was killed) is followed under this slot: it counts from now."""
        if self.job_id != job_id:
            self._count_job(session, job_id)

    def _count_job(self, session: Session | None, job_id: str | None) -> None:
        with self._transaction(session) as transaction:
            now = database_now(transaction)
            deadline = now + timedelta(seconds=self.leases.job_hold)
            self._set(
                transaction,
                expires_at=now + timedelta(seconds=self.leases.ttl),
                job_id=job_id,
                job_started_at=now,
                job_deadline=deadline,
            )
        self.job_id, self.job_started_at, self.job_deadline = job_id, now, deadline

    def started(self, session: Session, job_id: str) -> None:
        """The RPA answered with the job's id (in the caller's transaction, e.g. with the process's job id). Never
        raises: a slot found gone is left in `lost` (the job runs anyway; the caller must start nothing more)."""
        try:
            self._set(session, job_id=job_id)
        except LeaseLost:
            return
        self.job_id = job_id

    def claim(self, process_id: int | None, session: Session | None = None) -> bool:
        """Keep the slot for another process's job once this one's ended (or none was started): False when that
        process is claimed by another lease (in the caller's transaction, IntegrityError propagates instead).
        LeaseLost when the slot is no longer ours."""
        try:
            with self._transaction(session) as transaction:
                now = database_now(transaction)
                self._set(
                    transaction,
                    process_id=process_id,
                    expires_at=now + timedelta(seconds=self.leases.ttl),
                    job_id=None,
                    job_started_at=None,
                    job_deadline=None,
                )
        except IntegrityError:
            if session is not None:
                raise
            return False
        self.process_id, self.adopted = process_id, False
        self.job_id = self.job_started_at = self.job_deadline = None
        return True

    def seconds_left(self, job_timeout: float) -> float:
        """How long a follower may still wait for this lease's job: `job_timeout` from the job's start."""
        if self.job_started_at is None:
            return job_timeout
        with session_scope(self.leases.engine) as session:
            now = database_now(session)
        return max(0.0, job_timeout - (now - self.job_started_at).total_seconds())

    def release(self) -> None:
        """The job ended (the RPA said so) or none was started: the slot is free. LeaseLost if it was gone."""
        self.leases._forget(self)
        if self.lost is not None:
            raise self.lost
        with session_scope(self.leases.engine) as session:
            result = session.execute(
                delete(RpaLease).where(RpaLease.slot == self.slot, RpaLease.token == self.token)
            )
        if result.rowcount != 1:
            raise self._lose()

    def abandon(self) -> None:
        """Stop following a job that may still run: the slot stays taken until the RPA says the job ended or the
        job deadline passes; the heartbeat ends now, so another run may take the job over. Without a job the
        slot is simply released. LeaseLost if it was gone."""
        if not self.job_may_run:
            self.release()
            return
        self.leases._forget(self)
        with session_scope(self.leases.engine) as session:
            self._set(session, expires_at=database_now(session))


class RpaLeases:
    """The leases of one holder (a Dagster run) over the `limit` slots shared by every run."""

    def __init__(
        self,
        engine: Engine,
        limit: int,
        holder: str,
        ttl: float = 60.0,
        job_hold: float = 4500.0,
        poll_interval: float = 0.2,
    ):
        """`ttl`: heartbeat lifetime (renewed every ttl/3); `job_hold`: how long a started job may run (the
        client's job timeout + the grace time); `poll_interval`: pause between tries while every slot is taken."""
        if limit < 1:
            raise ValueError(f"RPA job limit must be >= 1, got {limit}")
        self.engine = engine
        self.limit = limit
        self.holder = holder[:200]
        self.ttl = ttl
        self.job_hold = job_hold
        self.poll_interval = poll_interval
        self._held: set[Lease] = set()
        self._lock = threading.Lock()
        self._checked: dict[str, float] = {}
        self._unfollowed = True

    def _keep(self, lease: Lease) -> Lease:
        with self._lock:
            self._held.add(lease)
        return lease

    def _forget(self, lease: Lease) -> None:
        with self._lock:
            self._held.discard(lease)

    def held(self) -> list[Lease]:
        with self._lock:
            return list(self._held)

    def take(self, process_id: int | None = None) -> Lease | Busy | None:
        """A slot for `process_id`'s job, claiming the process; Busy when another lease claims it (and it cannot
        be taken over); None when every slot is taken."""
        token = uuid.uuid4().hex
        with session_scope(self.engine) as session:  # read first: waiting runs poll here without writing
            now = database_now(session)
            rows = session.scalars(select(RpaLease)).all()
        over = [
            row
            for row in rows
            if row.expires_at < now and (row.job_deadline is None or row.job_deadline < now)
        ]
        if over:  # heartbeat and job deadline both passed: the slot is free again
            with session_scope(self.engine) as session:
                for row in over:
                    session.execute(
                        delete(RpaLease).where(
                            RpaLease.slot == row.slot,
                            RpaLease.token == row.token,
                            RpaLease.expires_at < now,
                            or_(RpaLease.job_deadline.is_(None), RpaLease.job_deadline < now),
                        )
                    )
            rows = [row for row in rows if row not in over]
        # jobs nobody follows: `free_ended_jobs` asks the RPA about them only when the last look saw some
        self._unfollowed = any(row.expires_at < now and row.job_id is not None for row in rows)
        claim = next((row for row in rows if process_id is not None and row.process_id == process_id), None)
        if claim is not None:
            return self._adopt(claim, token)
        if len(rows) >= self.limit:
            return None
        taken = {row.slot for row in rows}
        for slot in range(self.limit):
            if slot in taken:
                continue
            try:
                with session_scope(self.engine) as session:
                    now = database_now(session)
                    session.add(
                        RpaLease(
                            slot=slot,
                            token=token,
                            holder=self.holder,
                            process_id=process_id,
                            acquired_at=now,
                            expires_at=now + timedelta(seconds=self.ttl),
                        )
                    )
                    session.flush()
            except IntegrityError:  # the slot was taken meanwhile, or the process was claimed meanwhile
                if process_id is not None:
                    with session_scope(self.engine) as session:
                        claim = session.scalar(select(RpaLease).where(RpaLease.process_id == process_id))
                    if claim is not None:
                        return self._busy(claim, now)
                continue
            return self._keep(Lease(self, slot, token, process_id))
        return None

    def _busy(self, row: RpaLease, now: datetime) -> Busy:
        return Busy(row.process_id, row.holder, row.job_id, row.job_deadline, live=row.expires_at >= now)

    def _adopt(self, row: RpaLease, token: str) -> Lease | Busy:
        """Take over a job nobody follows any more (its holder was killed or gave up): only when its id is known,
        so that it can be followed instead of started again."""
        with session_scope(self.engine) as session:
            now = database_now(session)
            if row.expires_at >= now or row.job_id is None:
                return self._busy(row, now)
            result = session.execute(
                update(RpaLease)
                .where(RpaLease.slot == row.slot, RpaLease.token == row.token, RpaLease.expires_at < now)
                .values(holder=self.holder, token=token, expires_at=now + timedelta(seconds=self.ttl))
                .execution_options(synchronize_session=False)
            )
        if result.rowcount != 1:  # adopted or freed by someone else meanwhile
            return self._busy(row, now)
        return self._keep(
            Lease(
                self,
                row.slot,
                token,
                row.process_id,
                row.job_id,
                row.job_started_at,
                row.job_deadline,
                adopted=True,
            )
        )

    def free_ended_jobs(self, job_ended: Callable[[str], bool], every: float = 30.0) -> list[str]:
        """Ask the RPA about the jobs nobody follows (at most once per `every` seconds each) and free the slots
        of those that ended. Returns their job ids."""
        if not self._unfollowed:  # the last `take` saw none
            return []
        with session_scope(self.engine) as session:
            now = database_now(session)
            rows = session.execute(
                select(RpaLease.slot, RpaLease.token, RpaLease.job_id).where(
                    RpaLease.expires_at < now, RpaLease.job_id.is_not(None)
                )
            ).all()
        freed = []
        for slot, token, job_id in rows:
            last = self._checked.get(job_id)
            if last is not None and time.monotonic() - last < every:
                continue
            self._checked[job_id] = time.monotonic()
            if not job_ended(job_id):
                continue
            with session_scope(self.engine) as session:
                now = database_now(session)
                result = session.execute(
                    delete(RpaLease).where(
                        RpaLease.slot == slot, RpaLease.token == token, RpaLease.expires_at < now
                    )
                )
            if result.rowcount == 1:
                freed.append(job_id)
        return freed

    @contextmanager
    def heartbeat(
        self, on_lost: Callable[[LeaseLost], None], on_error: Callable[[Exception], None] = lambda exc: None
    ) -> Iterator[None]:
        """Renew every held lease every ttl/3 in a background thread for the `with` block. A lease whose slot is
        gone is reported to `on_lost` (once); other errors (database unreachable) to `on_error`."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.ttl / 3):
                for lease in self.held():
                    try:
                        lease.renew()
                    except LeaseLost as exc:
                        on_lost(exc)
                    except Exception as exc:  # noqa: BLE001 - the next beat tries again
                        on_error(exc)

        thread = threading.Thread(target=beat, name=f"rpa-lease-heartbeat {self.holder}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(30)
