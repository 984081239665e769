"""The `companies` and `users` tables, shared by every domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from routines.database.base import Base, UtcDateTime, utcnow


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    cnpj: Mapped[str | None] = mapped_column(String(18), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


ROLES = ("admin", "operator", "viewer")


class User(Base):
    """A person of a company: owns tasks and notifications, signs in to the business API.

    `role`: `viewer` reads, `operator` also acts (approves invoices, runs reports), `admin` also manages the
    company's users. The e-mail is stored lower-case and is unique across companies.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role in ('admin', 'operator', 'viewer')", name="role"),
        Index("ix_users_company_role", "company_id", "role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    company: Mapped[Company] = relationship()
