"""Benchmark: a realistic year of COTAHIST quotes parsed and loaded into PostgreSQL.

The year: the 7,518 quote records of the real 2021-06-25 file replicated over every B3 session of 2021 (dates
changed), ~1.9 million records, written as one TXT (like the yearly COTAHIST_A2021.TXT, unzipped).

Measured in the same run, on the same bytes/rows:
  parse   ours (CotahistReader -> typed numpy columns)          vs (a) pandas.read_fwf
  load    ours (load_cotahist: parse + checks + delete + COPY)  vs (b) DataFrame.to_sql, (c) bare COPY of the CSV
  memory  peak RSS of a separate process that only runs our year load (resource.getrusage)

(a) and (b) are too slow to run on the whole year in a few minutes: they run on a sample of records and their
rows/s is extrapolated (said in the output). Goals: parse >= 8x (a); load >= 20x (b) and <= 1.5x (c); peak
memory < 2 GB.

Usage: .venv/bin/python benchmarks/market_cotahist.py [--postgres URL] [--sample-fwf N] [--sample-to-sql N]
PostgreSQL default: ROUTINES_TEST_POSTGRES_URL or postgresql+psycopg2://postgres@127.0.0.1:5432/test (a scratch
schema is created and dropped).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

REAL_FILE = REPO.parent / "shared" / "data" / "b3" / "COTAHIST_D25062021.TXT"
DEFAULT_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def build_year(path: Path, year: int = 2021) -> tuple[int, int]:
    """Write the year file; returns (sessions, quote records)."""
    from routines.calendar import get_calendar

    raw = REAL_FILE.read_bytes()
    width = 247
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, width)
    quotes = records[1:-1].copy()
    sessions = get_calendar("B3").business_days_of_year(year)
    total = len(sessions) * len(quotes) + 2
    with open(path, "wb") as out:
        out.write(
            b"00COTAHIST." + str(year).encode() + b"BOVESPA " + sessions[-1].strftime("%Y%m%d").encode()
        )
        out.write(b" " * 214 + b"\r\n")
        for day in sessions:
            quotes[:, 2:10] = np.frombuffer(day.strftime("%Y%m%d").encode(), dtype=np.uint8)
            out.write(quotes.tobytes())
        out.write(
            b"99COTAHIST." + str(year).encode() + b"BOVESPA " + sessions[-1].strftime("%Y%m%d").encode()
        )
        out.write(str(total).zfill(11).encode() + b" " * 203 + b"\r\n")
    return len(sessions), len(sessions) * len(quotes)


def fwf_baseline(path: Path, rows: int) -> float:
    """(a) pandas.read_fwf on the first `rows` quote records of the same file: rows/s."""
    import pandas as pd

    from routines.market.cotahist import QUOTE_FIELDS

    with open(path, "rb") as handle:
        handle.readline()
        sample = handle.read(rows * 247)
    colspecs = [(0, 2)] + [(f.start, f.end) for f in QUOTE_FIELDS]
    names = ["TIPREG"] + [f.mnemonic for f in QUOTE_FIELDS]
    started = time.perf_counter()
    frame = pd.read_fwf(io.BytesIO(sample), colspecs=colspecs, names=names, header=None, encoding="latin-1")
    elapsed = time.perf_counter() - started
    assert len(frame) == rows, len(frame)
    return rows / elapsed


def our_parse(path: Path) -> tuple[float, int]:
    """Ours: every record validated and turned into typed columns. (seconds, rows)"""
    from routines.market.cotahist import CotahistReader

    started = time.perf_counter()
    rows = 0
    for chunk in CotahistReader(path):
        columns = chunk.columns()
        rows += len(columns["ticker"])
    return time.perf_counter() - started, rows


def scratch_schema(admin_url: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'create schema "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in admin_url else "?"
    return schema, f"{admin_url}{separator}options={quote(f'-csearch_path={schema}')}"


def drop_schema(admin_url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'drop schema "{schema}" cascade'))
    engine.dispose()


def truncate(url: str) -> None:
    from sqlalchemy import text

    from routines.database.engine import get_engine

    with get_engine(url).begin() as connection:
        connection.execute(text("TRUNCATE b3_quotes"))


def to_sql_baseline(path: Path, url: str, rows: int) -> float:
    """(b) DataFrame.to_sql (pandas defaults) of the same rows into b3_quotes: rows/s."""
    import pandas as pd

    from routines.database.engine import get_engine
    from routines.market.cotahist import CotahistReader

    collected: list[dict] = []
    for chunk in CotahistReader(path, chunk_records=rows + 2):
        collected.extend(chunk.rows())
        break
    frame = pd.DataFrame(collected[:rows])
    engine = get_engine(url)
    started = time.perf_counter()
    frame.to_sql("b3_quotes", engine, if_exists="append", index=False)
    elapsed = time.perf_counter() - started
    truncate(url)
    return len(frame) / elapsed


def copy_baseline(csv_path: Path, url: str) -> float:
    """(c) bare COPY of the same rows (the CSV text our loader produces, prepared beforehand): seconds."""
    from routines.database.engine import get_engine
    from routines.market.b3_load import COPY_SQL

    engine = get_engine(url)
    started = time.perf_counter()
    with engine.begin() as connection:
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute("SET LOCAL client_encoding TO 'LATIN1'")
        with open(csv_path, "rb") as handle:
            cursor.copy_expert(COPY_SQL, handle, size=1 << 20)
    return time.perf_counter() - started


def write_copy_csv(path: Path, csv_path: Path) -> None:
    from routines.market.cotahist import CotahistReader

    with open(csv_path, "wb") as out:
        for chunk in CotahistReader(path):
            out.write(chunk.copy_text())


def child_load(path: str, url: str) -> None:
    """Runs in its own process: our full load of the year, as the backfill asset does it (the year's sessions
    given: no separate validation pass); prints seconds, rows and peak RSS."""
    from routines.calendar import get_calendar
    from routines.database.engine import get_engine
    from routines.market.b3_load import load_cotahist

    sessions = get_calendar("B3").business_days_of_year(2021)
    started = time.perf_counter()
    result = load_cotahist(path, get_engine(url), name="COTAHIST_A2021.TXT", days=sessions)
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "rows": result.rows, "peak_mib": peak_kib / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", default=os.environ.get("ROUTINES_TEST_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--sample-fwf", type=int, default=100_000)
    parser.add_argument("--sample-to-sql", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of (c) and of our load; the best counts")
    parser.add_argument("--child-load", nargs=2, metavar=("PATH", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_load:
        child_load(*args.child_load)
        return
    if not REAL_FILE.exists():
        sys.exit(f"reference file {REAL_FILE} missing")

    from routines.database import migrate

    print(f"machine: {os.cpu_count()} CPU(s); PostgreSQL {args.postgres.split('@')[-1]}")
    with tempfile.TemporaryDirectory(prefix="cotahist_bench_") as folder:
        year_path = Path(folder) / "COTAHIST_A2021.TXT"
        started = time.perf_counter()
        sessions, rows = build_year(year_path)
        size_mb = year_path.stat().st_size / 1e6
        print(
            f"year file: {sessions} sessions, {rows:,} quote records, {size_mb:.0f} MB "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )

        # Parse
        fwf_rate = fwf_baseline(year_path, args.sample_fwf)
        parse_seconds, parsed = our_parse(year_path)
        assert parsed == rows
        parse_rate = rows / parse_seconds
        print(
            f"(a) pandas.read_fwf: {fwf_rate:,.0f} rows/s (sample of {args.sample_fwf:,} records, extrapolated "
            f"to the year: {rows / fwf_rate:.1f} s)"
        )
        print(
            f"    ours, parse to typed columns: {parse_seconds:.2f} s for the year = {parse_rate:,.0f} rows/s "
            f"-> {parse_rate / fwf_rate:.1f}x read_fwf (goal >= 8x)"
        )

        # Load
        schema, url = scratch_schema(args.postgres)
        try:
            migrate.upgrade(url)
            to_sql_rate = to_sql_baseline(year_path, url, args.sample_to_sql)
            csv_path = Path(folder) / "year.csv"
            write_copy_csv(year_path, csv_path)
            copy_runs, loads = [], []
            for _ in range(args.repeat):  # alternate; best of N for each (the server's timing is noisy)
                copy_runs.append(copy_baseline(csv_path, url))
                truncate(url)
                child = subprocess.run(
                    [sys.executable, __file__, "--child-load", str(year_path), url],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                loads.append(json.loads(child.stdout.strip().splitlines()[-1]))
                assert loads[-1]["rows"] == rows, loads[-1]
                truncate(url)
            csv_path.unlink()
            copy_seconds = min(copy_runs)
            load = min(loads, key=lambda item: item["seconds"])
            load["peak_mib"] = max(item["peak_mib"] for item in loads)
        finally:
            from routines.database.engine import get_engine

            get_engine(url).dispose()
            drop_schema(args.postgres, schema)
        load_rate = rows / load["seconds"]
        load_runs = ", ".join(f"{x['seconds']:.2f}" for x in loads)
        print(
            f"(b) DataFrame.to_sql: {to_sql_rate:,.0f} rows/s (sample of {args.sample_to_sql:,} rows, "
            f"extrapolated to the year: {rows / to_sql_rate / 60:.1f} min)"
        )
        print(
            f"(c) bare COPY of the prepared CSV: {copy_seconds:.2f} s = {rows / copy_seconds:,.0f} rows/s "
            f"(best of {args.repeat}: {', '.join(f'{s:.2f}' for s in copy_runs)})"
        )
        print(
            f"    ours, load_cotahist (parse + checks + delete + COPY, one transaction): {load['seconds']:.2f} s "
            f"= {load_rate:,.0f} rows/s (best of {args.repeat}: {load_runs})"
        )
        print(
            f"    -> {load_rate / to_sql_rate:.1f}x to_sql (goal >= 20x); "
            f"{load['seconds'] / copy_seconds:.2f}x the bare COPY time (goal <= 1.5x)"
        )
        print(
            f"    peak memory of the year load (own process, max RSS): {load['peak_mib']:.0f} MiB (goal < 2048)"
        )


if __name__ == "__main__":
    main()
