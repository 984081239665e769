"""Engines (one per URL per process) and the session/transaction scope every domain uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from routines import settings
from routines.errors import UserError


def describe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return parse_url(url).render_as_string(hide_password=True)


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        # the value itself is not repeated: it may hold a password
        raise UserError(
            "invalid database URL (expected e.g. postgresql+psycopg2://user:password@host:5432/db or "
            "sqlite:///path/to/file.db)"
        ) from None


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None for another database or an in-memory one)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def get_engine(url: str | None = None, *, create: bool = False) -> Engine:
    """The engine of `url` (default: ROUTINES_DATABASE_URL or the embedded SQLite), one per URL per process.

    Only `create=True` (the migrations) may create an SQLite file and its folder; any other use of a file that
    does not exist is a UserError telling to run `routines db upgrade`, and nothing is written on disk."""
    resolved = url or settings.database_url()
    file = sqlite_file(resolved)
    if file is not None and not file.exists():
        if not create:
            raise UserError(f"database {describe_url(resolved)} does not exist: run `routines db upgrade`")
        file.parent.mkdir(parents=True, exist_ok=True)
    return _engine_for(resolved)


@lru_cache(maxsize=32)
def _engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - exercised by every sqlite test
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        raise UserError(f"database URL {describe_url(url)!r} names no driver: use postgresql+psycopg2://...")
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commits on success, rolls back on any error, always closes."""
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
