"""Tables of alerts: `alert_routes` (where alerts go) and `sent_alerts` (what was sent: de-duplication, quiet
window, and the deadline misses waiting for their "regularizado")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from routines.database.base import Base, UtcDateTime, utcnow


class AlertRoute(Base):
    __tablename__ = "alert_routes"
    __table_args__ = (CheckConstraint("channel in ('email', 'slack', 'teams')", name="channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    channel: Mapped[str] = mapped_column(String(10))
    # email: addresses (comma separated); slack/teams: the NAME of the env var holding the webhook URL
    target: Mapped[str] = mapped_column(String(500))
    owners: Mapped[str] = mapped_column(Text, default="")  # comma separated (e-mails, team:names)
    groups: Mapped[str] = mapped_column(Text, default="")  # comma separated asset groups
    quiet_minutes: Mapped[int] = mapped_column(Integer, default=30)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SentAlert(Base):
    __tablename__ = "sent_alerts"
    __table_args__ = (Index("ix_sent_alerts_route_kind_subject", "route", "kind", "subject", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12))  # sent | failed | suppressed
    error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
