"""Benchmark of the routine catalog, each figure against a baseline measured in the same run:

1. code location load time with 500 generated catalog routines in ROUTINES_CATALOG_DIR vs none
   (goal: < 0.5 s added);
2. `load_file` of 1,000,000 CSV rows into PostgreSQL (whole-file validation, then COPY, partition replaced)
   vs a bare `COPY ... FROM STDIN (FORMAT csv)` of the same file into the same kind of table (goal: <= 1.5x).

Run: .venv/bin/python benchmarks/catalog.py [--routines N] [--rows N] [--rounds N]
PostgreSQL: ROUTINES_TEST_POSTGRES_URL's server (default postgresql+psycopg2://postgres@127.0.0.1:5432/test); a
uniquely named schema is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

KINDS = [
    'schedule: {type: daily, time: "09:00", business_days_late: 1}\nexecution: {type: download_file, '
    'url: "https://example.com/{day:%Y%m%d}.csv"}',
    'schedule: {type: cron, cron: "0 7 * * *", day_group: holidays}\nexecution: {type: api_call, '
    'url: "https://example.com/api?d={day}"}',
    'schedule: {type: cyclic, every_minutes: 15, start: "09:00", end: "18:00"}\nexecution: {type: python, '
    'callable: "routines.catalog.examples:ptax_monthly_average"}',
    'schedule: {type: monthly, time: "08:00", nth_business_day: -1}\nexecution: {type: python, '
    'callable: "routines.catalog.examples:ptax_monthly_average"}',
]


def write_catalog(folder: Path, count: int) -> None:
    for index in range(count):
        body = KINDS[index % len(KINDS)]
        calendar = ("ANBIMA", "B3")[index % 2]
        (folder / f"r{index:04d}.yaml").write_text(
            f"name: bench_{index:04d}\ncalendar: {calendar}\nowners: [team:bench]\n"
            f'deadline: {{time: "10:00", business_days_after: 1}}\n{body}\n'
        )


def load_seconds() -> float:
    from routines_tests.helpers import load_code_location

    start = time.perf_counter()
    defs = load_code_location()
    defs.get_repository_def()  # resolve, as the code server does
    return time.perf_counter() - start


def bench_load(routines: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        write_catalog(Path(folder), routines)
        os.environ.pop("ROUTINES_CATALOG_DIR", None)
        load_seconds()  # imports and calendars warm
        without, with_ = [], []
        for _ in range(rounds):
            os.environ.pop("ROUTINES_CATALOG_DIR", None)
            without.append(load_seconds())
            os.environ["ROUTINES_CATALOG_DIR"] = folder
            with_.append(load_seconds())
        os.environ.pop("ROUTINES_CATALOG_DIR", None)
    base, full = statistics.median(without), statistics.median(with_)
    print(
        f"load: no catalog routines {base:.3f} s, {routines} routines {full:.3f} s (medians of {rounds}); "
        f"added {full - base:.3f} s ({(full - base) / routines * 1000:.2f} ms per routine)"
    )


def write_csv(path: Path, rows: int, day: date) -> None:
    rng = random.Random(7)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("ticker;ref_date;price;rate;volume\n")
        for index in range(rows):
            handle.write(
                f"T{index % 5000:05d}X;{day.isoformat()};{rng.randint(1, 9999999) / 100:.2f};"
                f"{rng.random() * 20:.6f};{rng.randint(0, 10**9)}\n"
            )


def bench_load_file(rows: int, rounds: int) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from routines.catalog.runner import load_bytes
    from routines.catalog.schema import RoutineSpec

    admin_url = os.environ.get(
        "ROUTINES_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    )
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'create schema "{schema}"'))
    url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_engine(url)
    day = date(2025, 3, 5)
    spec = RoutineSpec.model_validate(
        {
            "name": "bench_prices",
            "schedule": {"type": "daily", "time": "09:00", "business_days_late": 1},
            "execution": {
                "type": "load_file",
                "source": {"path": "/dev/null"},
                "format": {"kind": "csv", "delimiter": ";"},
                "table": {
                    "name": "bench_prices",
                    "partition_column": "ref_date",
                    "columns": [
                        {"name": "ticker", "type": "text", "nullable": False},
                        {"name": "ref_date", "type": "date", "nullable": False},
                        {"name": "price", "type": "decimal", "precision": 18, "scale": 2},
                        {"name": "rate", "type": "decimal", "precision": 12, "scale": 6},
                        {"name": "volume", "type": "integer"},
                    ],
                },
            },
        }
    )
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "prices.csv"
            write_csv(path, rows, day)
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "create table bare_prices (ticker text not null, ref_date date not null, "
                        "price numeric(18,2), rate numeric(12,6), volume bigint)"
                    )
                )
            bare, catalog = [], []
            for _ in range(rounds):
                with engine.begin() as connection:
                    connection.execute(text("truncate bare_prices"))
                start = time.perf_counter()
                raw = engine.raw_connection()
                try:
                    cursor = raw.cursor()
                    with open(path, encoding="utf-8") as handle:
                        cursor.copy_expert(
                            "COPY bare_prices FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER ';')",
                            handle,
                        )
                    raw.commit()
                finally:
                    raw.close()
                bare.append(time.perf_counter() - start)
                start = time.perf_counter()
                metadata = load_bytes(spec, path.read_bytes(), str(path), day, engine, partitioned=True)
                catalog.append(time.perf_counter() - start)
                assert metadata["row_count"] == rows, metadata
            with engine.connect() as connection:
                assert connection.execute(text("select count(*) from bench_prices")).scalar() == rows
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'drop schema "{schema}" cascade'))
        admin.dispose()
    b, c = statistics.median(bare), statistics.median(catalog)
    print(
        f"load_file {rows:,} rows (PostgreSQL): bare COPY {b:.2f} s, catalog load_file {c:.2f} s "
        f"(medians of {rounds}): {c / b:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routines", type=int, default=500)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-load-file", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("ROUTINES_HOME", tempfile.mkdtemp(prefix="routines-bench-"))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    bench_load(args.routines, args.rounds)
    if not args.skip_load_file:
        bench_load_file(args.rows, args.rounds)


if __name__ == "__main__":
    main()
