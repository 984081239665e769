"""Bearer tokens of the business API: issue (shown once), revoke, list, authenticate. One implementation for the
CLI (`routines users token|tokens|revoke-token`) and the API.

A token is `rt_` + 43 random URL-safe characters (256 bits); the database keeps only its SHA-256, so a copy of
the database does not let anyone in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from routines import TIMEZONE
from routines.api.models import ApiToken
from routines.companies.models import Company, User
from routines.companies.users import find_user
from routines.database.base import utcnow
from routines.errors import UserError

PREFIX = "rt_"
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_expiry(value: str | None, now: datetime | None = None) -> datetime | None:
    """`--expires`: a number of days (`30d`), hours (`12h`), or a São Paulo date (`2026-12-31`, valid through
    that day). None or empty: no expiry."""
    if value is None or not value.strip():
        return None
    text = value.strip().lower()
    now = now or utcnow()
    match = re.fullmatch(r"(\d+)\s*([dh])", text)
    if match:
        amount = int(match.group(1))
        if amount <= 0:
            raise UserError(f"--expires {value!r}: must be a positive duration")
        return now + (timedelta(days=amount) if match.group(2) == "d" else timedelta(hours=amount))
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise UserError(
            f"--expires {value!r}: expected days (30d), hours (12h) or a date (2026-12-31)"
        ) from None
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(TIMEZONE))
    if end <= now:
        raise UserError(f"--expires {value!r}: that date has passed")
    return end


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the only time the token itself exists outside the caller
    record: ApiToken


def issue_token(
    session: Session, user: User | str | int, *, expires_at: datetime | None = None, label: str | None = None
) -> IssuedToken:
    owner = user if isinstance(user, User) else find_user(session, user)
    if not owner.active:
        raise UserError(f"user {owner.email} is disabled: no token issued")
    token = PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=owner.id,
        token_sha256=token_hash(token),
        prefix=token[:10],
        label=(label or "").strip()[:200] or None,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(record)
    session.flush()
    return IssuedToken(token, record)


def list_tokens(session: Session, user: User | str | int) -> list[ApiToken]:
    owner = user if isinstance(user, User) else find_user(session, user)
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == owner.id).order_by(ApiToken.id)))


def revoke_token(session: Session, token_id: int) -> ApiToken:
    record = session.get(ApiToken, token_id)
    if record is None:
        raise UserError(f"no API token with id {token_id}")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.flush()
    return record


def revoke_user_tokens(session: Session, user: User | str | int) -> int:
    """Revoke every live token of a user; returns how many."""
    owner = user if isinstance(user, User) else find_user(session, user)
    return session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == owner.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    ).rowcount


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user of a valid token (plain values, usable after the session closed)."""

    user_id: int
    company_id: int
    company_code: str
    name: str
    email: str
    role: str

    @property
    def actor(self) -> str:
        """How the invoice state machine and the run requests record this person."""
        return self.email


def authenticate(session: Session, token: str, now: datetime | None = None) -> tuple[Principal | None, str]:
    """(principal, "") for a valid token; (None, reason) otherwise. The reason never contains the token."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None, "malformed token"
    now = now or utcnow()
    # plain columns, not entities: this runs on every request
    row = session.execute(
        select(
            ApiToken.id,
            ApiToken.revoked_at,
            ApiToken.expires_at,
            ApiToken.last_used_at,
            User.id,
            User.name,
            User.email,
            User.role,
            User.active,
            Company.id,
            Company.code,
            Company.active,
        )
        .join(User, User.id == ApiToken.user_id)
        .join(Company, Company.id == User.company_id)
        .where(ApiToken.token_sha256 == token_hash(token))
    ).first()
    if row is None:
        return None, "unknown token"
    (
        token_id,
        revoked_at,
        expires_at,
        last_used_at,
        user_id,
        name,
        email,
        role,
        active,
        company_id,
        code,
        open_,
    ) = row
    if revoked_at is not None:
        return None, f"token {token_id} revoked"
    if expires_at is not None and expires_at <= now:
        return None, f"token {token_id} expired"
    if not active or not open_:
        return None, f"user {user_id} or company {code} disabled"
    if last_used_at is None or now - last_used_at >= LAST_USED_EVERY:
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return Principal(user_id, company_id, code, name, email, role), ""
