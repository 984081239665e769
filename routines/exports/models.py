"""The `export_tasks` table (the legacy TaskQueue): files and actions people ask for, run by Dagster.

The business application creates a task with a plain INSERT (task_type, user_id, company_id, payload and,
optionally, priority): every other column has a server default or is filled in by `routines`. Statuses:

    pending -> processing -> completed | failed        pending | processing -> cancelled
    failed | cancelled -> pending (retry)

Status changes are compare-and-set updates in `routines.exports.service`; a processing task holds one of the
`exports` pool's slots (`slot`, unique among processing tasks), so the bound holds even if Dagster lets one op
too many through.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from routines.companies.models import Company, User
from routines.database.base import Base, UtcDateTime

STATUSES = ("pending", "processing", "completed", "failed", "cancelled")
ACTIVE_STATUSES = ("pending", "processing")
FINISHED_STATUSES = ("completed", "failed", "cancelled")


class ExportTask(Base):
    __tablename__ = "export_tasks"
    __table_args__ = (
        CheckConstraint(
            "status in ('pending', 'processing', 'completed', 'failed', 'cancelled')", name="status"
        ),
        CheckConstraint("progress >= 0 and progress <= 100", name="progress"),
        # The sensor's query: pending tasks, most urgent first.
        Index("ix_export_tasks_queue", "status", "priority", "id"),
        Index("ix_export_tasks_user", "user_id", "created_at"),
        Index("ix_export_tasks_user_status", "user_id", "status"),  # the API's task summary
        Index("ix_export_tasks_company", "company_id", "created_at"),
        # At most one processing task per slot: the hard bound of the `exports` pool.
        Index(
            "ux_export_tasks_slot",
            "slot",
            unique=True,
            sqlite_where=text("status = 'processing'"),
            postgresql_where=text("status = 'processing'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), server_default="pending", default="pending")
    progress: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    progress_message: Mapped[str | None] = mapped_column(String(500))
    payload: Mapped[dict] = mapped_column(JSON, server_default=text("'{}'"), default=dict)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"))
    priority: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    # the file produced (types without a file leave these empty)
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_key: Mapped[str | None] = mapped_column(String(500))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # by the cleanup
    result: Mapped[dict | None] = mapped_column(JSON)  # what the task did, e.g. {"rows": 120}
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.current_timestamp())
    requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # run requested by the sensor
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dagster_run_key: Mapped[str | None] = mapped_column(String(100))
    dagster_run_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    slot: Mapped[int | None] = mapped_column(Integer)
    # Set by a cancel of a task whose run may be queued or running; the sensor cancels that run.
    run_cancel_requested: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)

    user: Mapped[User] = relationship()
    company: Mapped[Company] = relationship()

    @property
    def downloadable(self) -> bool:
        """The legacy `can_download`: completed, with a file the cleanup has not removed."""
        return self.status == "completed" and bool(self.file_key) and self.file_removed_at is None

    def __repr__(self) -> str:
        return f"ExportTask(id={self.id!r}, type={self.task_type!r}, status={self.status!r})"
