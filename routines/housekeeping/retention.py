"""Retention: what is old enough to remove, and removing exactly that (no Dagster here).

Every rule first makes a plan, a list of `Removal`s; the dry run prints the plan and changes nothing, the real
run computes the same plan and removes exactly its items (re-checking each condition as it removes). Dagster
runs are planned by the glue (`routines.defs.housekeeping.dagster_storage`), which uses `run_is_old` below.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from routines.files import FileStore
from routines.housekeeping.settings import FILE_AREAS, RetentionRules

ID_CHUNK = 500


@dataclass(frozen=True)
class Removal:
    """One thing a retention rule removes: a Dagster run, a file, a notification, a backup."""

    kind: str
    target: str
    size_bytes: int
    detail: str

    def line(self) -> str:
        return f"{self.kind}\t{self.target}\t{self.size_bytes}\t{self.detail}"


def summarize(removals: Sequence[Removal]) -> dict[str, dict[str, int]]:
    """Counts and bytes per kind (the run metadata): {"file": {"count": 3, "bytes": 1234}, ...}."""
    summary: dict[str, dict[str, int]] = {}
    for removal in removals:
        entry = summary.setdefault(removal.kind, {"count": 0, "bytes": 0})
        entry["count"] += 1
        entry["bytes"] += removal.size_bytes
    return summary


def report_lines(removals: Sequence[Removal], dry_run: bool) -> list[str]:
    """What the CLI prints: one line per removal (the same in the dry and the real run), then the totals."""
    lines = [removal.line() for removal in removals]
    totals = ", ".join(
        f"{kind}: {entry['count']} ({entry['bytes']} bytes)" for kind, entry in summarize(removals).items()
    )
    verb = "would remove" if dry_run else "removed"
    lines.append(
        f"{'dry run: ' if dry_run else ''}{verb} {len(removals)} item(s){': ' + totals if totals else ''}"
    )
    if dry_run:
        lines.append("dry run: nothing changed")
    return lines


def _local_day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


# -- Dagster runs (decision only) ------------------------------------------------------------------------------------
FAILED = "FAILURE"


def run_is_old(status: str, ended_at: datetime, rules: RetentionRules, now: datetime) -> bool:
    """A finished run past its retention: failed runs after `failed_runs_days`, the others after `runs_days`."""
    days = rules.failed_runs_days if status == FAILED else rules.runs_days
    return ended_at < now - timedelta(days=days)


# -- the file store --------------------------------------------------------------------------------------------------
def protected_invoice_keys(session: Session) -> set[str]:
    """Invoice files still needed: those of processes whose status is not final (the invoices state machine)."""
    from routines.invoices.models import InvoiceProcess
    from routines.invoices.status import Status, is_final

    open_statuses = [status.value for status in Status if not is_final(status)]
    return set(
        session.scalars(
            select(InvoiceProcess.file_key).where(
                InvoiceProcess.file_key.is_not(None), InvoiceProcess.status.in_(open_statuses)
            )
        )
    )


def plan_file_removals(
    store: FileStore, rules: RetentionRules, now: datetime, protected: set[str] = frozenset()
) -> list[Removal]:
    """Files of each area (`market/`, `invoices/`, `reports/`) last written more than the area's
    days ago, except `protected` keys; an area whose rule is `keep` is not looked at."""
    removals: list[Removal] = []
    for area in FILE_AREAS:
        days = rules.days_for(area)
        if days is None:
            continue
        cutoff = (now - timedelta(days=days)).timestamp()
        folder = store.root / area
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            stat = path.stat()
            key = path.relative_to(store.root).as_posix()
            if stat.st_mtime >= cutoff or key in protected:
                continue
            removals.append(
                Removal(
                    "file",
                    key,
                    stat.st_size,
                    f"{area}: gravado em {_local_day(stat.st_mtime)} (> {days} dias)",
                )
            )
    return removals


def _prune_empty_folders(path: Path, stop: Path) -> None:
    folder = path.parent
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone)
            return
        folder = folder.parent


def remove_files(store: FileStore, removals: Iterable[Removal]) -> list[Removal]:
    """Delete the planned files (and the folders they leave empty); returns the removals done."""
    done = []
    for removal in removals:
        path = store.path(removal.target)
        path.unlink(missing_ok=True)
        _prune_empty_folders(path, store.root / removal.target.split("/", 1)[0])
        done.append(removal)
    return done


# -- notifications ---------------------------------------------------------------------------------------------------
def _read_and_old(days: int, now: datetime):
    from routines.notifications.models import Notification

    return Notification.is_read.is_(True), Notification.created_at < now - timedelta(days=days)


def plan_notification_removals(session: Session, rules: RetentionRules, now: datetime) -> list[Removal]:
    """Read notifications created more than `read_notifications_days` ago (unread ones are always kept)."""
    from routines.notifications.models import Notification

    days = rules.read_notifications_days
    if days is None:
        return []
    rows = session.execute(
        select(Notification.id, Notification.title, Notification.message, Notification.created_at)
        .where(*_read_and_old(days, now))
        .order_by(Notification.id)
    ).all()
    return [
        Removal(
            "notification",
            str(row.id),
            len(row.title.encode()) + len(row.message.encode()),
            f"lida, criada em {row.created_at:%Y-%m-%d}: {row.title}",
        )
        for row in rows
    ]


def remove_notifications(
    session: Session, removals: Sequence[Removal], rules: RetentionRules, now: datetime
) -> list[Removal]:
    """Delete the planned notifications that still are read and old; returns those deleted."""
    from routines.notifications.models import Notification

    if rules.read_notifications_days is None:
        return []
    condition = _read_and_old(rules.read_notifications_days, now)
    wanted = {int(removal.target): removal for removal in removals}
    deleted: set[int] = set()
    ids = sorted(wanted)
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        deleted.update(
            session.scalars(
                delete(Notification).where(Notification.id.in_(chunk), *condition).returning(Notification.id)
            )
        )
    return [wanted[notification_id] for notification_id in ids if notification_id in deleted]


def file_retention(
    engine, store: FileStore, rules: RetentionRules, now: datetime, dry_run: bool
) -> list[Removal]:
    """Plan, and unless `dry_run` remove, the old files of the file store (the op and the CLI call this)."""
    from routines.database.engine import session_scope

    with session_scope(engine) as session:
        protected = protected_invoice_keys(session)
    plan = plan_file_removals(store, rules, now, protected)
    return plan if dry_run else remove_files(store, plan)


def notification_retention(engine, rules: RetentionRules, now: datetime, dry_run: bool) -> list[Removal]:
    """Plan, and unless `dry_run` delete, the old read notifications (one transaction)."""
    from routines.database.engine import session_scope

    with session_scope(engine) as session:
        plan = plan_notification_removals(session, rules, now)
        return plan if dry_run else remove_notifications(session, plan, rules, now)
