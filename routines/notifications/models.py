"""The `notifications` table: what people are told (the legacy UserNotification), read by the business
application, the business API and `routines notifications`.

A notification belongs to a user and their company; one with no user is for the operators' general feed
(nobody to address it to). `dedup_key` makes "notify once" a database guarantee: a second notification with the
same key is never created (see `routines.notifications.service.notify`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from routines.database.base import Base, UtcDateTime, utcnow

KINDS = ("task_completed", "task_failed", "file_ready", "info", "warning", "error")


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(
            "kind in ('task_completed', 'task_failed', 'file_ready', 'info', 'warning', 'error')", name="kind"
        ),
        Index("ix_notifications_unread", "is_read", "created_at"),
        Index("ix_notifications_user", "user_id", "is_read", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("export_tasks.id", ondelete="SET NULL"), index=True
    )
    run_id: Mapped[str | None] = mapped_column(String(64))
    job_name: Mapped[str | None] = mapped_column(String(200))
    link_url: Mapped[str | None] = mapped_column(String(500))
    link_text: Mapped[str | None] = mapped_column(String(100))
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
