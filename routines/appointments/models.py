"""The `appointments` and `attendances` tables.

The business application books appointments (inserts) and edits them (updates); it must set `updated_at` on
every save (the on-save sensor watches it; inserts get the database's current time by default). The routine
`close_past_appointments` deactivates every active appointment whose time has passed and creates its attendance:
at most one per appointment (unique `appointment_id`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, func, true
from sqlalchemy.orm import Mapped, mapped_column

from routines.database.base import Base, UtcDateTime, utcnow


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_active_id", "active", "id"),  # due ones in id order: the close batches
        Index("ix_appointments_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"))
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    booked_name: Mapped[str] = mapped_column(String(200))  # who or what is booked (patient, room, client...)
    client_reference: Mapped[str | None] = mapped_column(String(100))  # the application's own reference
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class Attendance(Base):
    """The record of an appointment that took place (legacy "atendimento"): one per appointment at most."""

    __tablename__ = "attendances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), unique=True
    )
    diagnosis: Mapped[str] = mapped_column(Text)
    treatment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
