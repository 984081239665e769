"""Benchmark: closing 100,000 past appointments with `close_past_appointments` vs a bare INSERT ... SELECT + UPDATE
of the same rows, measured in the same run (alternating, after the same reset), on PostgreSQL and SQLite.

Goal: <= 1.5x the bare statements on PostgreSQL (the SQLite figure is noted too).
Run: .venv/bin/python benchmarks/appointments_close.py [--rows N] [--rounds N] [--batch-size N]
PostgreSQL: ROUTINES_TEST_POSTGRES_URL's server; a uniquely named database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from routines.appointments.service import DEFAULT_DIAGNOSIS, DEFAULT_TREATMENT, close_past_appointments
from routines.database import migrate
from routines.database.engine import get_engine

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def bind_now(engine):
    return NOW.replace(tzinfo=None) if engine.dialect.name == "sqlite" else NOW


def seed(engine, rows: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "insert into companies (code, name, active, created_at) values ('BENCH', 'Bench', true, :n)"
            ),
            {"n": bind_now(engine)},
        )
        company = connection.execute(text("select id from companies where code = 'BENCH'")).scalar_one()
        at = bind_now(engine) - timedelta(days=1)
        batch = [
            {
                "c": company,
                "at": at - timedelta(minutes=i),
                "name": f"Paciente {i}",
                "notes": None if i % 3 else f"obs {i}",
            }
            for i in range(rows)
        ]
        connection.execute(
            text(
                "insert into appointments (company_id, scheduled_at, active, booked_name, notes, created_at, updated_at) "
                "values (:c, :at, true, :name, :notes, :at, :at)"
            ),
            batch,
        )


def reset(engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("delete from attendances"))
        connection.execute(text("update appointments set active = true"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("vacuum analyze appointments"))
            connection.execute(text("vacuum analyze attendances"))


def bare(engine) -> int:
    """The baseline: one INSERT ... SELECT and one UPDATE of the same rows, one transaction, nothing else."""
    now = bind_now(engine)
    with engine.begin() as connection:
        inserted = connection.execute(
            text(
                "insert into attendances (appointment_id, diagnosis, treatment, created_at, created_by) "
                "select id, :diagnosis, coalesce(nullif(trim(notes), ''), :treatment), :now, 'bench' "
                "from appointments where active and scheduled_at < :now"
            ),
            {"diagnosis": DEFAULT_DIAGNOSIS, "treatment": DEFAULT_TREATMENT, "now": now},
        ).rowcount
        connection.execute(
            text(
                "update appointments set active = false, updated_at = :now where active and scheduled_at < :now"
            ),
            {"now": now},
        )
    return inserted


def measure(url: str, rows: int, rounds: int, batch_size: int) -> tuple[list[float], list[float]]:
    migrate.upgrade(url)
    engine = get_engine(url)
    seed(engine, rows)
    routine, baseline = [], []
    for round_number in range(rounds):
        order = ("routine", "bare") if round_number % 2 == 0 else ("bare", "routine")
        for which in order:
            reset(engine)
            started = time.perf_counter()
            if which == "routine":
                summary = close_past_appointments(engine, now=NOW, batch_size=batch_size)
                assert summary.closed == summary.attendances == rows, summary
                routine.append(time.perf_counter() - started)
            else:
                assert bare(engine) == rows
                baseline.append(time.perf_counter() - started)
    engine.dispose()
    return routine, baseline


def report(name: str, routine: list[float], baseline: list[float]) -> None:
    r, b = statistics.median(routine), statistics.median(baseline)
    print(
        f"{name}: close_past_appointments median {r:.3f} s (runs {', '.join(f'{x:.3f}' for x in routine)}); "
        f"bare INSERT...SELECT + UPDATE median {b:.3f} s (runs {', '.join(f'{x:.3f}' for x in baseline)}); "
        f"ratio {r / b:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=10_000)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")

    admin_url = make_url(
        os.environ.get("ROUTINES_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    )
    admin = create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    database = f"bench_appointments_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'create database "{database}"'))
    try:
        url = admin_url.set(database=database).render_as_string(hide_password=False)
        report("PostgreSQL", *measure(url, args.rows, args.rounds, args.batch_size))
        get_engine(url).dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(
                text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :d"),
                {"d": database},
            )
            connection.execute(text(f'drop database if exists "{database}"'))
        admin.dispose()

    with tempfile.TemporaryDirectory() as folder:
        report("SQLite", *measure(f"sqlite:///{folder}/bench.db", args.rows, args.rounds, args.batch_size))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
