"""Recording and reading notifications (no Dagster)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from routines.database.base import utcnow
from routines.errors import UserError
from routines.notifications.models import Notification

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class FailedRun:
    run_id: str
    job_name: str
    partition_key: str | None
    error: str
    link_url: str | None = None
    assets: tuple[str, ...] = ()


def failed_run_title(failure: FailedRun) -> str:
    """`job` for named jobs; the assets for Dagster's implicit asset jobs (named `__...`)."""
    suffix = f" (partição {failure.partition_key})" if failure.partition_key else ""
    if failure.job_name.startswith("__") and failure.assets:
        shown = ", ".join(sorted(failure.assets)[:3]) + (" e outros" if len(failure.assets) > 3 else "")
        return f"Falha na materialização de {shown}{suffix}"
    return f"Falha na execução de {failure.job_name}{suffix}"


def record_failed_run(session: Session, failure: FailedRun) -> Notification:
    """One notification per failed run (a repeated call for the same run returns the first one)."""
    existing = session.scalar(select(Notification).where(Notification.run_id == failure.run_id))
    if existing is not None:
        return existing
    error = failure.error.strip() or "sem mensagem de erro"
    if len(error) > MAX_ERROR_CHARS:
        error = error[:MAX_ERROR_CHARS] + "…"
    notification = Notification(
        kind="run_failed",
        title=failed_run_title(failure),
        message=f"A execução {failure.run_id} falhou: {error}",
        run_id=failure.run_id,
        job_name=failure.job_name,
        link_url=failure.link_url,
    )
    session.add(notification)
    session.flush()
    return notification


def list_notifications(session: Session, unread_only: bool = False, limit: int = 50) -> list[Notification]:
    query = select(Notification).order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    if unread_only:
        query = query.where(Notification.is_read.is_(False))
    return list(session.scalars(query))


def mark_read(session: Session, ids: list[int] | None = None) -> int:
    """Mark the given notifications (or every unread one when `ids` is None) as read; returns how many."""
    statement = update(Notification).where(Notification.is_read.is_(False))
    if ids is not None:
        known = set(session.scalars(select(Notification.id).where(Notification.id.in_(ids))))
        missing = sorted(set(ids) - known)
        if missing:
            raise UserError(f"no notification with id {', '.join(map(str, missing))}")
        statement = statement.where(Notification.id.in_(ids))
    return session.execute(statement.values(is_read=True, read_at=utcnow())).rowcount


def notify_users(session: Session, users, *, dedup_key: str | None = None, **fields) -> list[Notification]:
    """One notification per user (`user_id`, `company_id`), told once: the key becomes `<dedup_key>:user:<id>`
    (unique), and a user who already has it gets nothing new. Returns each user's notification."""
    result = []
    for user in users:
        key = f"{dedup_key}:user:{user.id}" if dedup_key else None
        existing = (
            session.scalar(select(Notification).where(Notification.dedup_key == key))
            if key is not None
            else None
        )
        if existing is None:
            existing = Notification(user_id=user.id, company_id=user.company_id, dedup_key=key, **fields)
            session.add(existing)
            session.flush()
        result.append(existing)
    return result
