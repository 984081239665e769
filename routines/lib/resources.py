"""Dagster resources and policies for the shared pieces (database, file store, HTTP). Thin glue only.

SQLAlchemy and requests are imported when a resource is used, not when the code location loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dagster as dg

from routines import settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from routines.calendar.core import Calendar
    from routines.files import FileStore

# Retries for assets that talk to external systems: 404 before publication, 429, 5xx and timeouts.
EXTERNAL_RETRY_POLICY = dg.RetryPolicy(
    max_retries=4, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


DEFAULT_POOL_LIMIT = 5


def pool_limit(instance: dg.DagsterInstance, pool: str, default: int = DEFAULT_POOL_LIMIT) -> int:
    """The limit of a concurrency pool on this instance: `dagster instance concurrency set <pool> N`, else the
    instance's `concurrency.pools.default_limit`, else `default`. Domains that guard a pool with a hard bound of
    their own (RPA leases, export slots) size it with this."""
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        slots = storage.get_concurrency_info(pool).slot_count
        if slots > 0:
            return slots
    return instance.global_op_concurrency_default_limit or default


class DatabaseResource(dg.ConfigurableResource):
    """The business database. `url` empty = ROUTINES_DATABASE_URL or the embedded SQLite file."""

    url: str = ""

    def resolved_url(self) -> str:
        return self.url or settings.database_url()

    def get_engine(self) -> Engine:
        from routines.database.engine import get_engine

        return get_engine(self.resolved_url())

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, rollback on error."""
        from routines.database.engine import session_scope

        with session_scope(self.get_engine()) as session:
            yield session


class FileStoreResource(dg.ConfigurableResource):
    """The file store. `root` empty = ROUTINES_FILE_STORE_ROOT or `.routines/files`."""

    root: str = ""

    def get_store(self) -> FileStore:
        from routines.files import FileStore

        return FileStore(self.root or settings.file_store_root())


class BusinessCalendarResource(dg.ConfigurableResource):
    """A named calendar: ANBIMA, B3, BR, BR-<UF> or a company calendar (`routines.calendar.get_calendar`)."""

    name: str = "ANBIMA"

    @property
    def calendar(self) -> Calendar:
        from routines.calendar.registry import get_calendar

        return get_calendar(self.name)


@contextmanager
def http_failures() -> Iterator[None]:
    """Fatal HTTP errors (401/403, other 4xx) bypass the retry policy; retryable ones are raised as they are."""
    from routines.http import HttpError

    try:
        yield
    except HttpError as exc:
        if exc.retryable:
            raise
        raise dg.Failure(description=str(exc), allow_retries=False) from exc


@contextmanager
def bad_input_fails() -> Iterator[None]:
    """A bad file will not get better by retrying: fail the step at once, the message naming file/line/field."""
    from routines.errors import InputFileError

    try:
        yield
    except InputFileError as exc:
        metadata = {
            "file": exc.file,
            "line": exc.line if exc.line is not None else "",
            "field": exc.field or "",
        }
        raise dg.Failure(description=str(exc), metadata=metadata, allow_retries=False) from exc
