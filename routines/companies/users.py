"""The people of each company: add, list and disable users (one implementation for the CLI and the API)."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routines.companies.models import ROLES, Company, User
from routines.database.base import utcnow
from routines.errors import UserError

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    value = (email or "").strip().lower()
    if not EMAIL.match(value):
        raise UserError(f"e-mail {email!r}: expected an address such as maria@empresa.com.br")
    return value


def company_by_code(session: Session, code: str) -> Company:
    company = session.scalar(select(Company).where(Company.code == code.strip().upper()))
    if company is None:
        known = ", ".join(session.scalars(select(Company.code).order_by(Company.code))) or "none"
        raise UserError(f"company {code!r} does not exist (known: {known})")
    return company


def add_user(session: Session, *, company_code: str, name: str, email: str, role: str) -> User:
    if role not in ROLES:
        raise UserError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if not (name or "").strip():
        raise UserError("name: required")
    address = normalize_email(email)
    company = company_by_code(session, company_code)
    existing = session.scalar(select(User).where(User.email == address))
    if existing is not None:
        raise UserError(f"e-mail {address}: already used by user {existing.id} ({existing.company.code})")
    user = User(company_id=company.id, name=name.strip(), email=address, role=role, active=True)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, reference: str | int) -> User:
    """A user by id or by e-mail."""
    text = str(reference).strip()
    if text.isdigit():
        user = session.get(User, int(text))
    else:
        user = session.scalar(select(User).where(User.email == text.lower()))
    if user is None:
        raise UserError(f"user {reference!r} does not exist")
    return user


def list_users(
    session: Session, *, company_code: str | None = None, include_inactive: bool = False
) -> list[User]:
    query = select(User).join(Company).order_by(Company.code, func.lower(User.name), User.id)
    if company_code:
        query = query.where(Company.id == company_by_code(session, company_code).id)
    if not include_inactive:
        query = query.where(User.active.is_(True))
    return list(session.scalars(query))


def disable_user(session: Session, reference: str | int) -> User:
    user = find_user(session, reference)
    if user.active:
        user.active = False
        user.disabled_at = utcnow()
        session.flush()
    return user


def users_with_role(session: Session, company_id: int, *roles: str) -> list[User]:
    """Active users of a company with one of `roles` (all roles when none is given)."""
    query = select(User).where(User.company_id == company_id, User.active.is_(True)).order_by(User.id)
    if roles:
        query = query.where(User.role.in_(roles))
    return list(session.scalars(query))
