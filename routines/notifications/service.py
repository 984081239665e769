"""Notifications for people (no Dagster). The API every domain calls:

- `notify(session, kind=, title=, message=, user=, ...)`: one notification for one user (or, with no user, for
  the operators' general feed). `dedup_key` makes it happen once: a second call with the same key returns the
  first notification instead of creating another (a unique key in the database).
- `notify_users(session, users, ...)`: the same for several people (one each, the key suffixed per user).
- `company_admins(session, company_id)`: the usual recipients when nobody in particular is responsible.
- `record_failed_run(session, FailedRun)`: a failed Dagster run -> the owners of its assets (by e-mail), else the
  admins of the routine's company (see `routine_recipients`); once per root run even when Dagster retries it.
- `list_notifications(session, user_id=...)`, `unread_count`, `mark_read`: what the CLI and the API show.

Titles and messages are pt-BR; kinds are `KINDS` (`task_completed`, `task_failed`, `file_ready`, `info`,
`warning`, `error`). All functions work in the caller's transaction (`session_scope`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from routines.companies.models import Company, User
from routines.companies.users import users_with_role
from routines.database.base import utcnow
from routines.errors import UserError
from routines.notifications.models import KINDS, Notification

MAX_ERROR_CHARS = 2000
# Run tag naming the company a routine runs for (`routines/company: BEG`); without it, see `routine_recipients`.
COMPANY_TAG = "routines/company"
# Run tag of runs whose domain tells its own people about a failure (export tasks notify their user).
NOTIFIES_ITSELF_TAG = "routines/notifies_itself"
ROUTINE_COMPANY_ENV = "ROUTINES_ROUTINE_COMPANY"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notify(
    session: Session,
    *,
    kind: str,
    title: str,
    message: str,
    user: User | None = None,
    company_id: int | None = None,
    task_id: int | None = None,
    link_url: str | None = None,
    link_text: str | None = None,
    run_id: str | None = None,
    job_name: str | None = None,
    dedup_key: str | None = None,
) -> Notification:
    """Create one notification (pt-BR title and message) for `user` (None: the general feed).

    `company_id` defaults to the user's company. With `dedup_key`, a notification already recorded under that
    key is returned instead of a new one; if another transaction inserts the same key at the same moment, the
    unique key makes one of the two transactions fail (never two notifications).
    """
    if kind not in KINDS:
        raise ValueError(f"notification kind {kind!r}: expected one of {', '.join(KINDS)}")
    if dedup_key is not None:
        existing = session.scalar(select(Notification).where(Notification.dedup_key == dedup_key))
        if existing is not None:
            return existing
    notification = Notification(
        user_id=user.id if user is not None else None,
        company_id=company_id if company_id is not None else (user.company_id if user is not None else None),
        kind=kind,
        title=_cut(title.strip(), 200),
        message=message.strip(),
        task_id=task_id,
        run_id=run_id,
        job_name=job_name,
        link_url=link_url,
        link_text=_cut(link_text, 100) if link_text else None,
        dedup_key=dedup_key,
        is_read=False,
        created_at=utcnow(),
    )
    session.add(notification)
    session.flush()
    return notification


def notify_users(
    session: Session, users: Iterable[User], *, dedup_key: str | None = None, **fields
) -> list[Notification]:
    """`notify` each user once (the key becomes `<dedup_key>:user:<id>`); returns the notifications."""
    return [
        notify(session, user=user, dedup_key=f"{dedup_key}:user:{user.id}" if dedup_key else None, **fields)
        for user in users
    ]


def company_admins(session: Session, company_id: int) -> list[User]:
    """The active admins of a company."""
    return users_with_role(session, company_id, "admin")


# -- failed Dagster runs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FailedRun:
    run_id: str
    job_name: str
    partition_key: str | None
    error: str
    link_url: str | None = None
    assets: tuple[str, ...] = ()
    root_run_id: str | None = None  # the first run of a chain of retries (Dagster tag dagster/root_run_id)
    owners: tuple[str, ...] = ()  # owners of the failed assets (e-mails or team:names)
    company_code: str | None = None  # run tag routines/company
    will_retry: bool = False  # Dagster will re-execute it (run retries)

    @property
    def key(self) -> str:
        return f"run:{self.root_run_id or self.run_id}"


def failed_run_title(failure: FailedRun) -> str:
    """`job` for named jobs; the assets for Dagster's implicit asset jobs (named `__...`)."""
    suffix = f" (partição {failure.partition_key})" if failure.partition_key else ""
    if failure.job_name.startswith("__") and failure.assets:
        shown = ", ".join(sorted(failure.assets)[:3]) + (" e outros" if len(failure.assets) > 3 else "")
        return f"Falha na materialização de {shown}{suffix}"
    return f"Falha na execução de {failure.job_name}{suffix}"


def routine_recipients(
    session: Session, owners: Iterable[str], company_code: str | None = None
) -> list[User]:
    """Who is told about a failed routine.

    1. The owners of the failed assets that are users (Dagster asset `owners`, matched by e-mail; `team:` owners
       are not people and are skipped).
    2. Else the admins of the routine's company: the run tag `routines/company`, else the company named by
       ROUTINES_ROUTINE_COMPANY (the company that runs the shared routines), else every active company (shared
       routines such as the B3 and CVM loads serve them all).
    An empty list means nobody: the notification goes to the general feed.
    """
    emails = sorted({owner.strip().lower() for owner in owners if "@" in owner})
    if emails:
        people = list(
            session.scalars(
                select(User).where(User.email.in_(emails), User.active.is_(True)).order_by(User.id)
            )
        )
        if people:
            return people
    code = (company_code or os.environ.get(ROUTINE_COMPANY_ENV, "")).strip().upper()
    query = select(Company.id).where(Company.active.is_(True)).order_by(Company.id)
    if code:
        query = query.where(Company.code == code)
    return [admin for company_id in session.scalars(query) for admin in company_admins(session, company_id)]


def record_failed_run(session: Session, failure: FailedRun) -> list[Notification]:
    """One notification per recipient per failed run; a retried run (same root run) adds none."""
    error = _cut(failure.error.strip() or "sem mensagem de erro", MAX_ERROR_CHARS + 1)
    message = f"A execução {failure.run_id} falhou: {error}"
    if failure.will_retry:
        message += " O Dagster vai executá-la novamente."
    fields = {
        "kind": "error",
        "title": failed_run_title(failure),
        "message": message,
        "run_id": failure.run_id,
        "job_name": failure.job_name,
        "link_url": failure.link_url,
        "link_text": "Abrir a execução no Dagster" if failure.link_url else None,
    }
    recipients = routine_recipients(session, failure.owners, failure.company_code)
    if not recipients:
        return [notify(session, dedup_key=failure.key, **fields)]
    return notify_users(session, recipients, dedup_key=failure.key, **fields)


# -- reading -------------------------------------------------------------------------------------------------
def list_notifications(
    session: Session, *, user_id: int | None = None, unread_only: bool = False, limit: int = 50
) -> list[Notification]:
    """Newest first; a user's own (`user_id`), or every notification when None."""
    query = select(Notification).order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.is_read.is_(False))
    return list(session.scalars(query))


def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.is_read.is_(False))
    )


def mark_read(session: Session, ids: list[int] | None = None, *, user_id: int | None = None) -> int:
    """Mark the given notifications (or every unread one when `ids` is None) as read; returns how many.

    With `user_id`, only that user's notifications: an id of someone else's is refused like an unknown one.
    """
    scope = [Notification.user_id == user_id] if user_id is not None else []
    statement = update(Notification).where(Notification.is_read.is_(False), *scope)
    if ids is not None:
        known = set(session.scalars(select(Notification.id).where(Notification.id.in_(ids), *scope)))
        missing = sorted(set(ids) - known)
        if missing:
            raise UserError(f"no notification with id {', '.join(map(str, missing))}")
        statement = statement.where(Notification.id.in_(ids))
    return session.execute(statement.values(is_read=True, read_at=utcnow())).rowcount
