"""Removing old task files (the legacy `cleanup_old_task_files`): `routines exports cleanup` and the daily
Dagster job call `cleanup_task_files`. Pure: no Dagster.

What goes: the files of tasks finished more than N days ago (their tasks are marked `file_removed_at`, so they
are no longer downloadable) and files under `task_files/` that no task refers to (a run killed between writing
its file and completing its task), older than N days. A dry run computes the same list and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from routines.database.base import utcnow
from routines.database.engine import session_scope
from routines.errors import UserError
from routines.exports.models import ExportTask
from routines.exports.service import TASK_FILES
from routines.files import FileStore


@dataclass(frozen=True)
class RemovedFile:
    key: str
    size: int
    task_id: int | None  # None: a file no task refers to

    def line(self) -> str:
        owner = f"task {self.task_id}" if self.task_id is not None else "no task"
        return f"{self.key}\t{self.size} bytes\t{owner}"


@dataclass
class CleanupReport:
    days: int
    cutoff: datetime
    dry_run: bool
    files: list[RemovedFile] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.files)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def summary(self) -> str:
        verb = "would be removed" if self.dry_run else "removed"
        return f"{self.count} file(s), {self.bytes} bytes {verb} (older than {self.days} days)"


def plan_cleanup(engine: Engine, store: FileStore, cutoff: datetime) -> list[RemovedFile]:
    """The files a cleanup with this cutoff removes, sorted by key."""
    t = ExportTask
    with session_scope(engine) as session:
        expired = session.execute(
            select(t.id, t.file_key, t.file_size).where(
                t.file_key.is_not(None), t.file_removed_at.is_(None), t.finished_at < cutoff
            )
        ).all()
        referenced = set(
            session.scalars(select(t.file_key).where(t.file_key.is_not(None), t.file_removed_at.is_(None)))
        )
    files = [RemovedFile(key, size or 0, task_id) for task_id, key, size in expired]
    root = store.path(TASK_FILES)
    if root.is_dir():
        limit = cutoff.timestamp()
        for path in root.rglob("*"):
            if not path.is_file():
                continue
            key = path.relative_to(store.root).as_posix()
            stat = path.stat()
            if key not in referenced and stat.st_mtime < limit:
                files.append(RemovedFile(key, stat.st_size, None))
    return sorted(files, key=lambda f: f.key)


def cleanup_task_files(
    engine: Engine, store: FileStore, *, days: int, dry_run: bool = False, now: datetime | None = None
) -> CleanupReport:
    """Remove task files older than `days` days (see the module doc); a dry run only lists them."""
    if days < 1:
        raise UserError(f"--days {days}: keep files at least one day")
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    report = CleanupReport(
        days=days, cutoff=cutoff, dry_run=dry_run, files=plan_cleanup(engine, store, cutoff)
    )
    if dry_run or not report.files:
        return report
    task_ids = [f.task_id for f in report.files if f.task_id is not None]
    # The tasks first: a file whose task says "removed" and that survives (a failed unlink) is an orphan the
    # next cleanup removes; the reverse would leave tasks offering a file that is gone.
    with session_scope(engine) as session:
        for start in range(0, len(task_ids), 500):
            session.execute(
                update(ExportTask)
                .where(ExportTask.id.in_(task_ids[start : start + 500]), ExportTask.file_removed_at.is_(None))
                .values(file_removed_at=now)
            )
    for removed in report.files:
        store.path(removed.key).unlink(missing_ok=True)
    return report


def remove_task_file(
    engine: Engine, store: FileStore, task_id: int, now: datetime | None = None
) -> ExportTask:
    """The legacy `delete_file`: remove one completed task's file now. The task is marked first (compare-and-set
    on a file not yet removed), then the file is unlinked, as the cleanup does."""
    t = ExportTask
    with session_scope(engine) as session:
        task = session.get(t, task_id)
        if task is None:
            raise UserError(f"no export task with id {task_id}")
        if not task.downloadable:
            raise UserError(f"task {task_id} has no file to remove ({task.status})")
        key = task.file_key
        changed = session.execute(
            update(t)
            .where(t.id == task_id, t.file_key == key, t.file_removed_at.is_(None))
            .values(file_removed_at=now or utcnow())
        ).rowcount
        if not changed:
            raise UserError(f"task {task_id} changed while its file was being removed: look at it again")
        session.refresh(task)
        session.expunge(task)
    store.path(key).unlink(missing_ok=True)
    return task
