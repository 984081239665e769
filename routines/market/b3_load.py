"""Load COTAHIST quote records into table `b3_quotes` (pure: no Dagster; the CLI and the assets call it).

One transaction per load: the rows of every day being loaded are deleted and the file's rows of those days
inserted; any error (a rule of the file broken, trailer mismatch, database error) rolls the whole load back, so the
table is either as before or fully replaced for those days. Loading the same file twice gives the same table.

Concurrent loads of a session (CLI, asset, or both) are serialised: on PostgreSQL each load takes a
transaction-scoped advisory lock per session (`pg_advisory_xact_lock(LOCK_NAMESPACE, YYYYMMDD)`, in date order)
before its delete, so a second load waits for the first to commit and then deletes what it wrote; SQLite's write
lock does the same. Whichever commits last wins and the table holds one copy of the session.

Fast paths: PostgreSQL `COPY ... FROM STDIN` fed by a stream that builds each chunk's text while the server
ingests the previous one (parsing and loading overlap on two cores); SQLite `executemany` in one transaction.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, bindparam, text

from routines.market.cotahist import (
    COLUMNS,
    DEFAULT_CHUNK_RECORDS,
    NULLABLE_COLUMNS,
    CotahistReader,
    CotahistSummary,
    QuoteChunk,
    daily_period,
    date_to_int,
    period_from_name,
)

TABLE = "b3_quotes"
NATURAL_KEY = ("trade_date", "ticker", "market_type", "term_days", "expiry_date", "strike")
COPY_SQL = f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT text)"
LOCK_NAMESPACE = 0x42335154  # "B3QT": first key of the per-session advisory locks


@dataclass
class LoadResult:
    file_name: str
    summary: CotahistSummary
    days: list[date]
    rows_per_day: dict[date, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.rows_per_day.values())


class _ChunkStream:
    """A read()-able stream of COPY text for psycopg2's copy_expert.

    A background thread builds the text of the next chunks (numpy releases the GIL) while psycopg2 sends the
    previous ones (it releases the GIL in libpq calls) and the server ingests them: on two cores parsing and
    loading overlap. The queue is bounded, so memory stays at a few chunks."""

    _END = object()

    def __init__(self, chunks: Iterable[QuoteChunk], depth: int = 4):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._buffer = b""
        self._done = False
        self._stop = threading.Event()
        self.error: BaseException | None = None  # psycopg2 hides errors raised in read(): kept here
        self._thread = threading.Thread(target=self._produce, args=(iter(chunks),), daemon=True)
        self._thread.start()

    def _produce(self, chunks: Iterator[QuoteChunk]) -> None:
        try:
            for chunk in chunks:
                data = chunk.copy_text()
                while not self._stop.is_set():
                    try:
                        self._queue.put(data, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._queue.put(self._END)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading side
            self._queue.put(exc)

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            item = self._queue.get()
            if item is self._END:
                self._done = True
            elif isinstance(item, BaseException):
                self._done = True
                self.error = item
                raise item
            else:
                self._buffer += item
        if size < 0 or size >= len(self._buffer):
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _selected(chunks: Iterable[QuoteChunk], days: set[int]) -> Iterator[QuoteChunk]:
    """The records of `days` (YYYYMMDD) only."""
    wanted = np.fromiter(days, dtype=np.int64)
    for chunk in chunks:
        keep = np.isin(chunk.int_column("trade_date"), wanted)
        if not keep.all():
            chunk = chunk.select(keep)
        if len(chunk):
            yield chunk


def _insert_sql_sqlite() -> str:
    values = ", ".join("NULLIF(?, '\\N')" if column in NULLABLE_COLUMNS else "?" for column in COLUMNS)
    return f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({values})"


def load_cotahist(
    source: str | os.PathLike | bytes,
    engine: Engine,
    *,
    name: str | None = None,
    expected_date: date | None = None,
    days: Iterable[date] | None = None,
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
) -> LoadResult:
    """Validate and load a COTAHIST file (TXT or ZIP) into `b3_quotes`, replacing its days in one transaction.

    The file's rules are `CotahistReader`'s (module `cotahist`), the same for the CLI and the assets.
    - a daily file (named `COTAHIST_DDDMMYYYY`, or `expected_date` given): its session is replaced, in one pass;
    - `days`: replace exactly these days with the file's records of these days (monthly/yearly files in a
      backfill; each must hold records); records of other days are validated and skipped;
    - otherwise (a monthly/yearly file from the CLI): the file is validated in a first pass, then the sessions
      it holds are replaced.
    """
    if name is None and not isinstance(source, bytes | bytearray | memoryview):
        name = Path(source).name
    period = daily_period(expected_date) if expected_date is not None else period_from_name(name)
    if days is None and period is not None and period.kind == "daily":
        days = [period.first]
    if days is None:
        scan = CotahistReader(source, name=name, chunk_records=max(chunk_records, 16384))
        for _ in scan:
            pass
        days = scan.summary.trade_dates
    day_list = sorted(set(days))
    reader = CotahistReader(
        source, name=name, expected_date=expected_date, sessions=day_list, chunk_records=chunk_records
    )
    chunks = _selected(reader, {date_to_int(day) for day in day_list})
    with engine.begin() as connection:
        dbapi = connection.connection.dbapi_connection
        cursor = dbapi.cursor()
        try:
            if engine.dialect.name == "postgresql":
                for day in day_list:  # in date order: two loads of overlapping days never deadlock
                    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, date_to_int(day)))
                cursor.execute("SET LOCAL client_encoding TO 'LATIN1'")
                cursor.execute(f"DELETE FROM {TABLE} WHERE trade_date = ANY(%s)", (day_list,))
                stream = _ChunkStream(chunks)
                try:
                    cursor.copy_expert(COPY_SQL, stream, size=1 << 20)
                except Exception:
                    if stream.error is not None:
                        raise stream.error from None
                    raise
                finally:
                    stream.close()
                cursor.execute("SET LOCAL client_encoding TO 'UTF8'")
            else:
                cursor.executemany(
                    f"DELETE FROM {TABLE} WHERE trade_date = ?", [(day.isoformat(),) for day in day_list]
                )
                insert = _insert_sql_sqlite()
                for chunk in chunks:
                    lines = chunk.text().decode("latin-1").split("\n")
                    lines.pop()
                    cursor.executemany(insert, [line.split("\t") for line in lines])
        finally:
            cursor.close()
    per_day = reader.summary.quotes_per_day
    rows_per_day = {day: per_day.get(day, 0) for day in day_list}
    return LoadResult(reader.summary.file_name, reader.summary, day_list, rows_per_day)


# --------------------------------------------------------------------------------------------------------------
# Checks on the loaded table (the asset checks and the CLI call these)


def count_rows(engine: Engine, day: date) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text(f"SELECT COUNT(*) FROM {TABLE} WHERE trade_date = :day"), {"day": day}
        ).scalar_one()


def duplicate_keys(engine: Engine, days: list[date], limit: int = 10) -> tuple[int, list[tuple]]:
    """Groups of rows sharing the natural key (NULLs compare equal in GROUP BY): (count, first groups)."""
    key = ", ".join(NATURAL_KEY)
    sql = (
        f"SELECT {key}, COUNT(*) AS n FROM {TABLE} WHERE trade_date IN :days "
        f"GROUP BY {key} HAVING COUNT(*) > 1 ORDER BY {key}"
    )
    statement = text(sql).bindparams(bindparam("days", expanding=True))
    with engine.connect() as connection:
        groups = [tuple(row) for row in connection.execute(statement, {"days": days})]
    return len(groups), groups[:limit]


def price_order_violations(engine: Engine, days: list[date], limit: int = 10) -> tuple[int, list[tuple]]:
    """Rows where not (low <= open <= high and low <= close <= high)."""
    if engine.dialect.name == "sqlite":  # exact decimals are text there: compare as numbers
        o, h, lo, c = ("CAST(open AS REAL)", "CAST(high AS REAL)", "CAST(low AS REAL)", "CAST(close AS REAL)")
    else:
        o, h, lo, c = "open", "high", "low", "close"
    condition = f"NOT ({lo} <= {o} AND {o} <= {h} AND {lo} <= {c} AND {c} <= {h})"
    statement = text(
        f"SELECT trade_date, ticker, market_type, open, high, low, close FROM {TABLE} "
        f"WHERE trade_date IN :days AND {condition} ORDER BY trade_date, ticker"
    ).bindparams(bindparam("days", expanding=True))
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(statement, {"days": days})]
    return len(rows), rows[:limit]


def top_by_volume(engine: Engine, day: date, limit: int = 10) -> list[dict[str, object]]:
    """Preview: the day's most traded instruments (typed values: Decimal on every database)."""
    from sqlalchemy import Float, cast, select

    from routines.market.models import B3Quote

    columns = [getattr(B3Quote, name) for name in ("ticker", "market_type", "open", "high", "low", "close")]
    columns += [B3Quote.trades, B3Quote.volume]
    order = cast(B3Quote.volume, Float) if engine.dialect.name == "sqlite" else B3Quote.volume
    statement = select(*columns).where(B3Quote.trade_date == day).order_by(order.desc(), B3Quote.ticker)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(statement.limit(limit))]
