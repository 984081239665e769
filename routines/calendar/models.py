"""Tables of the calendar domain: company calendars (a base calendar plus extra closed / open days)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from routines.database.base import Base, UtcDateTime, utcnow


class BusinessCalendar(Base):
    """A company calendar: `base_calendar` (ANBIMA, B3, BR, BR-XX or another company one) plus its days."""

    __tablename__ = "business_calendars"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    base_calendar: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(200), default="")
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    days: Mapped[list[BusinessCalendarDay]] = relationship(
        back_populates="calendar", cascade="all, delete-orphan", order_by="BusinessCalendarDay.day"
    )


class BusinessCalendarDay(Base):
    """An extra closed day (status 'closed') or an extra open day (status 'open') of a company calendar."""

    __tablename__ = "business_calendar_days"
    __table_args__ = (
        UniqueConstraint("calendar_id", "day"),
        CheckConstraint("status in ('closed', 'open')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("business_calendars.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(6))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    calendar: Mapped[BusinessCalendar] = relationship(back_populates="days")
