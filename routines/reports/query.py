"""Running a report query: read-only transaction, statement timeout, row limit. No Dagster."""

from __future__ import annotations

import time

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from routines.errors import UserError
from routines.reports.render import ReportTable
from routines.reports.validation import validate_query


class QueryError(UserError):
    pass


def run_query(
    engine: Engine, sql: str, max_rows: int, timeout_seconds: float, report: str | None = None
) -> ReportTable:
    """Validate again, then run in a read-only transaction (PostgreSQL: READ ONLY + statement_timeout;
    SQLite: PRAGMA query_only + a progress-handler deadline). Fetches at most `max_rows` rows."""
    sql = validate_query(sql, report)
    with engine.connect() as connection:
        dialect = connection.dialect.name
        transaction = connection.begin()
        raw = None
        try:
            if dialect == "postgresql":
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_seconds * 1000)}")
            elif dialect == "sqlite":
                raw = connection.connection.driver_connection
                raw.execute("PRAGMA query_only = ON")
                deadline = time.monotonic() + timeout_seconds
                raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
            result = connection.execution_options(no_parameters=True, stream_results=True).exec_driver_sql(
                sql
            )
            columns = list(result.keys())
            rows = [tuple(row) for row in result.fetchmany(max_rows + 1)]
            result.close()
        except DBAPIError as exc:
            message = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
            if "statement timeout" in message or "interrupted" in message:
                message = f"query exceeded the {timeout_seconds:g} s time limit ({message})"
            where = f"report {report!r}, " if report else ""
            raise QueryError(f"{where}field query: {message}") from None
        finally:
            transaction.rollback()
            if raw is not None:
                raw.set_progress_handler(None, 0)
                raw.execute("PRAGMA query_only = OFF")
    truncated = len(rows) > max_rows
    return ReportTable(columns=columns, rows=rows[:max_rows], truncated=truncated)
