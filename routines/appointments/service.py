"""Closing past appointments, listing them, and what the on-save sensor watches (no Dagster here).

`close_past_appointments` is the one implementation behind the hourly schedule, the on-save sensor's runs and
`routines appointments close`. It is set-based: per batch of ids, in one transaction,

    INSERT INTO attendances (...) SELECT ... FROM appointments WHERE <due> AND id IN batch
        ON CONFLICT (appointment_id) DO NOTHING
    UPDATE appointments SET active = false WHERE <due> AND id IN batch AND <has an attendance>

so no Python loop touches a row. The unique `attendances.appointment_id` and ON CONFLICT DO NOTHING make it
idempotent, also for two runs at once (the second one's insert waits for the first one's rows and skips them).
The UPDATE only deactivates appointments that have their attendance: a row that became due between the two
statements (another transaction's commit, visible to the UPDATE on PostgreSQL) stays active for the next run
instead of being closed without an attendance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, exists, func, literal, select, update
from sqlalchemy.orm import Session

from routines.appointments.models import Appointment, Attendance
from routines.database.base import utcnow

DEFAULT_DIAGNOSIS = "Consulta finalizada automaticamente via sistema"
DEFAULT_TREATMENT = "Realizado conforme agendamento"
ROUTINE_ACTOR = "routine:close_past_appointments"
DEFAULT_BATCH_SIZE = 10_000
MAX_RUN_KEY_IDS_CHARS = 200


@dataclass
class CloseSummary:
    """What one closing run did: appointments deactivated, attendances created, batches (transactions)."""

    closed: int = 0
    attendances: int = 0
    batches: int = 0
    id_ranges: list[tuple[int, int]] = field(default_factory=list)


def _due(now: datetime, ids: Sequence[int] | None):
    condition = and_(Appointment.active.is_(True), Appointment.scheduled_at < now)
    if ids is not None:
        condition = and_(condition, Appointment.id.in_(list(ids)))
    return condition


def _insert_ignoring_duplicates(dialect_name: str):
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the project runs on PostgreSQL and SQLite only
        raise NotImplementedError(f"close_past_appointments: unsupported database {dialect_name}")
    return insert(Attendance)


def close_past_appointments(
    engine: Engine,
    *,
    now: datetime | None = None,
    ids: Sequence[int] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    actor: str = ROUTINE_ACTOR,
) -> CloseSummary:
    """Close every active appointment whose time is before `now` (only those of `ids` when given).

    Each batch of at most `batch_size` ids (ascending) is one transaction. Returns the counts.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    now = now or utcnow()
    summary = CloseSummary()
    if ids is not None and not ids:
        return summary
    after = 0
    while True:
        with engine.begin() as connection:
            window = (
                select(Appointment.id)
                .where(_due(now, ids), Appointment.id > after)
                .order_by(Appointment.id)
                .limit(batch_size)
                .subquery()
            )
            upper = connection.scalar(select(func.max(window.c.id)))
            if upper is None:
                break
            in_batch = and_(_due(now, ids), Appointment.id > after, Appointment.id <= upper)
            treatment = func.coalesce(func.nullif(func.trim(Appointment.notes), ""), DEFAULT_TREATMENT)
            insert = _insert_ignoring_duplicates(connection.dialect.name)
            inserted = connection.execute(
                insert.from_select(
                    ["appointment_id", "diagnosis", "treatment", "created_at", "created_by"],
                    select(
                        Appointment.id,
                        literal(DEFAULT_DIAGNOSIS),
                        treatment,
                        literal(now, Attendance.created_at.type),
                        literal(actor),
                    ).where(in_batch),
                ).on_conflict_do_nothing(index_elements=["appointment_id"])
            ).rowcount
            # the batch's range on both sides: PostgreSQL reads only the batch's attendances (an index range)
            has_attendance = exists().where(
                Attendance.appointment_id == Appointment.id,
                Attendance.appointment_id > after,
                Attendance.appointment_id <= upper,
            )
            deactivated = connection.execute(
                update(Appointment)
                .where(in_batch, has_attendance)
                .values(active=False, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
        summary.attendances += max(inserted, 0)
        summary.closed += max(deactivated, 0)
        summary.batches += 1
        summary.id_ranges.append((after + 1, upper))
        after = upper
    return summary


@dataclass(frozen=True)
class AppointmentRow:
    id: int
    company_id: int
    scheduled_at: datetime
    active: bool
    booked_name: str
    client_reference: str | None
    notes: str | None
    attendance_id: int | None


def _rows(session: Session, query) -> list[AppointmentRow]:
    query = query.add_columns(Attendance.id).outerjoin(
        Attendance, Attendance.appointment_id == Appointment.id
    )
    return [
        AppointmentRow(
            id=appointment.id,
            company_id=appointment.company_id,
            scheduled_at=appointment.scheduled_at,
            active=appointment.active,
            booked_name=appointment.booked_name,
            client_reference=appointment.client_reference,
            notes=appointment.notes,
            attendance_id=attendance_id,
        )
        for appointment, attendance_id in session.execute(query).all()
    ]


def due_appointments(
    session: Session,
    *,
    now: datetime | None = None,
    ids: Sequence[int] | None = None,
    limit: int | None = None,
) -> list[AppointmentRow]:
    """What `close_past_appointments` would close now (the dry run), in id order."""
    query = select(Appointment).where(_due(now or utcnow(), ids)).order_by(Appointment.id)
    if limit is not None:
        query = query.limit(limit)
    return _rows(session, query)


def count_due(session: Session, *, now: datetime | None = None) -> int:
    return session.scalar(select(func.count()).select_from(Appointment).where(_due(now or utcnow(), None)))


def list_appointments(
    session: Session, *, company_id: int | None = None, active_only: bool = False, limit: int = 50
) -> list[AppointmentRow]:
    """Newest scheduled first, with the attendance id of closed ones."""
    query = select(Appointment).order_by(Appointment.scheduled_at.desc(), Appointment.id.desc()).limit(limit)
    if company_id is not None:
        query = query.where(Appointment.company_id == company_id)
    if active_only:
        query = query.where(Appointment.active.is_(True))
    return _rows(session, query)


# -- the on-save sensor's decision -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SavedBatch:
    """Active appointments with a past time saved since the cursor: their ids and the new cursor."""

    ids: tuple[int, ...]
    cursor: datetime | None


def saved_due_appointments(
    session: Session,
    *,
    since: datetime | None,
    now: datetime,
    overlap: timedelta = timedelta(minutes=5),
    limit: int = 1000,
) -> SavedBatch:
    """Appointments saved (`updated_at`) after `since - overlap` that are active and already past `now`.

    The overlap re-reads the last minutes, so a save whose transaction committed after a later one is not
    missed; an appointment already closed is inactive and drops out, so re-reading requests nothing twice.
    The new cursor is the latest `updated_at` read (never earlier than `since`).
    """
    query = (
        select(Appointment.id, Appointment.updated_at)
        .where(_due(now, None))
        .order_by(Appointment.updated_at, Appointment.id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(Appointment.updated_at > since - overlap)
    rows = session.execute(query).all()
    latest = max((updated for _, updated in rows), default=None)
    cursor = latest if latest is not None and (since is None or latest > since) else since
    return SavedBatch(ids=tuple(sorted(row_id for row_id, _ in rows)), cursor=cursor)


def batch_run_key(ids: Sequence[int]) -> str:
    """The run key of a batch: its ids (`appointments:3,7,12`); a long batch by its range, size and digest."""
    ordered = sorted(set(ids))
    text = ",".join(map(str, ordered))
    if len(text) <= MAX_RUN_KEY_IDS_CHARS:
        return f"appointments:{text}"
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"appointments:{ordered[0]}..{ordered[-1]}:{len(ordered)}:{digest}"
