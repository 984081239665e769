"""Running a report query in the sandbox and streaming its rows, with a row cap, a byte cap and one time limit for
the whole query. No Dagster.

The query is parsed first (`validate_query`, the friendly first line), then the database enforces the boundary
on a connection of its own, closed afterwards:

- PostgreSQL: the session writes the report's company id into its TEMP table `routines_report_scope`
  (committed, visible only to this session), then one READ ONLY transaction does `SET LOCAL ROLE` to the
  reporting role (no login, SELECT on the reporting views only) and `SET LOCAL search_path` to the reporting
  schema. The query is opened and fetched only through `report_open`/`report_fetch`, SECURITY DEFINER functions
  owned by the reporting role: one statement, run as the reporting role, in a frame where PostgreSQL refuses
  any change of role. Before each batch `statement_timeout` is set to what is left of the time limit, and a
  watchdog cancels the backend at the deadline: the limit bounds the whole query, not each fetch.
- SQLite: a read-only connection (`mode=ro`, `PRAGMA query_only`) with TEMP views of the same surface for the
  company, an authorizer allowing only reads of those views and an allow-list of functions (no PRAGMA,
  ATTACH, other tables, `sqlite_master`...), and a progress-handler deadline.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote as url_quote

from sqlalchemy import Engine

from routines.errors import UserError
from routines.reports.surface import CURSOR_NAME, SCOPE_TABLE, VIEW_NAMES, quote, sqlite_surface_sql
from routines.reports.validation import validate_query

FIRST_BATCH_ROWS = 50
MAX_BATCH_ROWS = 2000
BATCH_TARGET_BYTES = 4 * 1024 * 1024  # rows fetched per round trip: about this much data
SQLITE_FUNCTIONS = frozenset(
    """abs avg char coalesce concat concat_ws count cume_dist current_date current_time current_timestamp date
    datetime dense_rank first_value format glob group_concat hex ifnull iif instr json json_array
    json_array_length json_extract json_group_array json_group_object json_object json_quote json_type
    json_valid julianday lag last_value lead length like likely lower ltrim max min nth_value ntile nullif
    percent_rank printf quote rank replace round row_number rtrim sign strftime string_agg substr substring sum
    time timediff total trim typeof unicode unixepoch unlikely upper acos asin atan atan2 ceil ceiling cos
    degrees exp floor ln log log10 log2 mod pi pow power radians sin sqrt tan trunc""".split()
)


class QueryError(UserError):
    pass


@dataclass(frozen=True)
class QueryLimits:
    max_rows: int
    max_bytes: int
    timeout_seconds: float


def value_size(value: object) -> int:
    """Approximate bytes of one value (text and binary by length, anything else 8)."""
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return len(value)
    return 8


@dataclass
class ReportRows:
    """An open report query: `columns`, then its rows, read once by iterating. After the iteration:
    `row_count`, `data_bytes` and `truncated_by` (`"rows"`, `"bytes"` or None)."""

    columns: list[str]
    limits: QueryLimits
    _fetch: object = field(repr=False)  # callable(n) -> list of rows, [] at the end
    row_count: int = 0
    data_bytes: int = 0
    truncated_by: str | None = None

    @property
    def truncated(self) -> bool:
        return self.truncated_by is not None

    def __iter__(self) -> Iterator[tuple]:
        batch = FIRST_BATCH_ROWS
        limits = self.limits
        while True:
            wanted = min(batch, limits.max_rows + 1 - self.row_count)
            rows = self._fetch(wanted)
            if not rows:
                return
            batch_bytes = 0
            for row in rows:
                if self.row_count >= limits.max_rows:
                    self.truncated_by = "rows"
                    return
                size = sum(value_size(v) for v in row)
                if self.data_bytes + size > limits.max_bytes:
                    self.truncated_by = "bytes"
                    return
                self.row_count += 1
                self.data_bytes += size
                batch_bytes += size
                yield tuple(row)
            if len(rows) < wanted:
                return
            average = max(1, batch_bytes // max(1, len(rows)))
            batch = max(1, min(MAX_BATCH_ROWS, BATCH_TARGET_BYTES // average))


def _where(report: str | None) -> str:
    return f"report {report!r}, " if report else ""


@contextmanager
def open_report_query(
    engine: Engine, sql: str, company_id: int, limits: QueryLimits, report: str | None = None
) -> Iterator[ReportRows]:
    """Validate, then open the query in the sandbox of the engine's database for `company_id`."""
    dialect = engine.dialect.name
    sql = validate_query(sql, report, dialect)
    if dialect == "postgresql":
        opener = _open_postgres
    elif dialect == "sqlite":
        opener = _open_sqlite
    else:
        raise QueryError(f"{_where(report)}field query: reports are not supported on {dialect}")
    with opener(engine, sql, int(company_id), limits, report) as rows:
        yield rows


# -- PostgreSQL ---------------------------------------------------------------------------------------------
def _postgres_error(exc: Exception, limits: QueryLimits, report: str | None, cancelled: bool) -> QueryError:
    message = (getattr(exc, "pgerror", None) or str(exc)).strip().splitlines()[0]
    message = message.removeprefix("ERROR:").strip()
    if cancelled or "statement timeout" in message or "canceling statement" in message:
        message = f"query exceeded the {limits.timeout_seconds:g} s time limit ({message})"
    return QueryError(f"{_where(report)}field query: {message}")


@contextmanager
def _open_postgres(engine, sql, company_id, limits, report):
    import psycopg2

    from routines.reports.sandbox import PostgresSandbox

    pooled = engine.raw_connection()
    connection = pooled.driver_connection
    deadline = time.monotonic() + limits.timeout_seconds
    cancelled = threading.Event()

    def cancel() -> None:
        cancelled.set()
        connection.cancel()

    watchdog = threading.Timer(limits.timeout_seconds + 1.0, cancel)
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT current_database(), current_schema(), current_user")
        sandbox = PostgresSandbox(*cursor.fetchone())
        schema = quote(sandbox.schema)
        cursor.execute(f"CREATE TEMP TABLE {SCOPE_TABLE} (company_id integer NOT NULL)")
        cursor.execute(f"INSERT INTO pg_temp.{SCOPE_TABLE} (company_id) VALUES (%s)", (company_id,))
        connection.commit()

        def set_time_left() -> None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QueryError(
                    f"{_where(report)}field query: query exceeded the {limits.timeout_seconds:g} s time limit"
                )
            cursor.execute(f"SET LOCAL statement_timeout = {max(1, int(left * 1000))}")

        watchdog.start()
        try:
            cursor.execute("SET TRANSACTION READ ONLY")
            set_time_left()
            try:
                cursor.execute(f"SET LOCAL ROLE {quote(sandbox.role)}")
            except psycopg2.Error as exc:
                raise QueryError(
                    f"{_where(report)}field query: cannot switch to the reporting role {sandbox.role} "
                    f"({str(exc).strip().splitlines()[0]}): run `routines db upgrade`, or ask a DBA to run "
                    f"`GRANT {quote(sandbox.role)} TO {quote(sandbox.application_role)}`"
                ) from None
            cursor.execute(f"SET LOCAL search_path = {schema}, pg_catalog")
            cursor.execute(f"SELECT {schema}.report_open(%s)", (sql,))
            cursor.execute(f"FETCH 0 FROM {quote(CURSOR_NAME)}")  # the row type, without running anything
            columns = [d.name for d in cursor.description]
            oids = [d.type_code for d in cursor.description]
            cursor.execute(
                "SELECT format_type(u.t, NULL) FROM unnest(%s::oid[]) WITH ORDINALITY AS u(t, n) ORDER BY u.n",
                (oids,),
            )
            definition = ", ".join(f"c{i} {row[0]}" for i, row in enumerate(cursor.fetchall()))
            fetch_sql = f"SELECT * FROM {schema}.report_fetch(%s, %s) AS r({definition})"

            def fetch(count: int) -> list[tuple]:
                set_time_left()
                cursor.execute(fetch_sql, (CURSOR_NAME, count))
                return cursor.fetchall()

            yield ReportRows(columns=columns, limits=limits, _fetch=fetch)
        except psycopg2.Error as exc:
            raise _postgres_error(exc, limits, report, cancelled.is_set()) from None
        finally:
            watchdog.cancel()
    finally:
        pooled.invalidate()  # the session (TEMP table, role, settings) ends with this connection


# -- SQLite -------------------------------------------------------------------------------------------------
def _sqlite_authorizer(hidden: frozenset[str]):
    ok, deny = sqlite3.SQLITE_OK, sqlite3.SQLITE_DENY

    def authorize(action, arg1, arg2, database, inner):
        if action == sqlite3.SQLITE_SELECT or action == sqlite3.SQLITE_RECURSIVE:
            return ok
        if action == sqlite3.SQLITE_READ:
            if database == "temp" and (arg1 in VIEW_NAMES or arg1 in hidden):
                return ok  # a reporting view, or the hidden view behind one
            if database == "main" and inner in hidden:
                return ok  # a table read by a hidden view, whose name the query cannot know
            return deny
        if action == sqlite3.SQLITE_FUNCTION:
            return ok if (arg2 or "").lower() in SQLITE_FUNCTIONS else deny
        return deny  # PRAGMA, ATTACH, any write, transaction, schema change...

    return authorize


@contextmanager
def _open_sqlite(engine, sql, company_id, limits, report):
    path = engine.url.database
    if not path or path == ":memory:":
        raise QueryError(f"{_where(report)}field query: reports need a SQLite database file, not {path!r}")
    connection = sqlite3.connect(f"file:{url_quote(path)}?mode=ro", uri=True, timeout=30)
    deadline = time.monotonic() + limits.timeout_seconds
    try:
        statements, hidden = sqlite_surface_sql(company_id, secrets.token_hex(16))
        for statement in statements:
            connection.execute(statement)
        connection.execute("PRAGMA query_only = ON")  # from here on nothing is written, not even TEMP objects
        connection.set_authorizer(_sqlite_authorizer(hidden))
        connection.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
        try:
            cursor = connection.execute(sql)  # sqlite3 runs exactly one statement
            columns = [d[0] for d in cursor.description or ()]
            yield ReportRows(columns=columns, limits=limits, _fetch=cursor.fetchmany)
        except sqlite3.Error as exc:
            message = str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
            if "interrupted" in message:
                message = f"query exceeded the {limits.timeout_seconds:g} s time limit ({message})"
            raise QueryError(f"{_where(report)}field query: {message}") from None
    finally:
        connection.close()


def fetch_all(
    engine: Engine, sql: str, company_id: int, limits: QueryLimits, report: str | None = None
) -> tuple[list[str], list[tuple], ReportRows]:
    """Every row at once (small results: tests, previews)."""
    with open_report_query(engine, sql, company_id, limits, report) as rows:
        data = list(rows)
    return rows.columns, data, rows
