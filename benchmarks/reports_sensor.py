"""Benchmark: report schedule sensor tick time at 100 / 1,000 / 10,000 report definitions.

Definitions get a random daily time (cron "M H * * *", America/Sao_Paulo, half of them business days only
on the ANBIMA calendar). The tick only queries what is due (index on active, next_run_at): measured are
- a quiet tick (nothing due),
- a normal tick one minute after the previous one (about N/1440 due),
- the full Dagster sensor evaluation (plan + dynamic-partition sync + run requests) on a real instance.
Goal: < 1 s per tick at 10,000 definitions. SQLite always; PostgreSQL too when reachable
(ROUTINES_TEST_POSTGRES_URL, default postgresql+psycopg2://postgres@127.0.0.1:5432/test; a throwaway schema).
Run: .venv/bin/python benchmarks/reports_sensor.py [--sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, insert, text, update

SP = ZoneInfo("America/Sao_Paulo")
START = datetime(2026, 11, 19, 0, 0, tzinfo=SP)  # a Thursday


def populate(url: str, n: int) -> None:
    from routines.companies.models import Company
    from routines.database import migrate
    from routines.database.engine import get_engine, session_scope
    from routines.reports.models import ReportDefinition, ReportExecution
    from routines.reports.schedule import Scheduler, ScheduleSpec

    migrate.upgrade(url)
    engine = get_engine(url)
    rng = random.Random(42)
    with session_scope(engine) as session:
        company = Company(code="BENCH", name="Benchmark S.A.")
        session.add(company)
        session.flush()
        rows = []
        for i in range(n):
            minute, hour = rng.randrange(60), rng.randrange(6, 22)
            business = i % 2 == 0
            spec = ScheduleSpec(f"{minute} {hour} * * *", calendar_name="ANBIMA" if business else None,
                                business_days_only=business)  # fmt: skip
            rows.append({
                "company_id": company.id, "name": f"Relatório {i}", "query_sql": "select 1", "format": "xlsx",
                "recipients_to": ["a@bench.com.br"], "recipients_cc": [], "cron": spec.cron,
                "timezone": "America/Sao_Paulo", "calendar_name": spec.calendar_name,
                "business_days_only": business, "shift": "skip", "active": True,
                "next_run_at": Scheduler(spec).next_after(START),
                "created_at": START, "updated_at": START,
            })  # fmt: skip
        session.execute(insert(ReportDefinition), rows)
    with session_scope(engine) as session:  # keep the execution table small between measurements
        session.execute(ReportExecution.__table__.delete())


def finish_pending(engine) -> None:
    from routines.database.engine import session_scope
    from routines.reports.models import ReportExecution

    with session_scope(engine) as session:
        session.execute(
            update(ReportExecution).where(ReportExecution.status == "pending").values(status="success")
        )


def measure(url: str, n: int) -> dict[str, float]:
    import dagster as dg

    from routines.database.engine import get_engine
    from routines.defs.reports.assets import reports, reports_job
    from routines.defs.reports.sensors import build_report_schedule_sensor
    from routines.lib.resources import DatabaseResource, FileStoreResource
    from routines.reports.config import ReportsConfig
    from routines.reports.ticks import plan_tick

    populate(url, n)
    engine = get_engine(url)
    config = ReportsConfig(catch_up_limit=3, tick_batch_size=1000)
    # a quiet tick: 05:00, nothing due before 06:00
    quiet = []
    for k in range(5):
        t0 = time.perf_counter()
        plan_tick(engine, START + timedelta(hours=5, seconds=k), config)
        quiet.append(time.perf_counter() - t0)
    # warm the calendar caches and move the day along to 09:00 (catch-up of the morning in one tick)
    t0 = time.perf_counter()
    backlog = plan_tick(engine, START + timedelta(hours=9), config)
    backlog_s = time.perf_counter() - t0
    while backlog.more_due:
        backlog = plan_tick(engine, START + timedelta(hours=9), config)
    finish_pending(engine)
    normal, due = [], []
    now = START + timedelta(hours=9)
    for _ in range(10):  # a tick each minute from 09:01
        now += timedelta(minutes=1)
        t0 = time.perf_counter()
        plan = plan_tick(engine, now, config)
        normal.append(time.perf_counter() - t0)
        due.append(plan.due_definitions)
        finish_pending(engine)
    # the whole Dagster sensor evaluation, dynamic partitions already in sync (steady state)
    with dg.instance_for_test() as instance:
        resources = {"database": DatabaseResource(url=url), "file_store": FileStoreResource()}
        sensor_times = []
        for k in range(6):
            tick_time = now + timedelta(minutes=k + 1)
            sensor = build_report_schedule_sensor(reports_job, clock=lambda t=tick_time: t)
            definitions = dg.Definitions(
                assets=[reports], jobs=[reports_job], sensors=[sensor], resources=resources
            )
            context = dg.build_sensor_context(
                instance=instance,
                instance_ref=instance.get_ref(),
                resources=resources,
                definitions=definitions,
            )
            t0 = time.perf_counter()
            result = sensor.evaluate_tick(context)
            elapsed = time.perf_counter() - t0
            for request in result.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            finish_pending(engine)
            if k > 0:  # the first evaluation also registers the N partitions once
                sensor_times.append(elapsed)
    return {
        "quiet_ms": statistics.median(quiet) * 1000,
        "normal_ms": statistics.median(normal) * 1000,
        "normal_max_ms": max(normal) * 1000,
        "due_per_tick": statistics.mean(due),
        "backlog_ms": backlog_s * 1000,
        "sensor_ms": statistics.median(sensor_times) * 1000,
    }


def postgres_url() -> tuple[str, object] | None:
    admin_url = os.environ.get(
        "ROUTINES_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    )
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception:  # noqa: BLE001
        return None
    return admin_url, admin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    header = (f"{'backend':<10} {'defs':>6} {'quiet tick':>11} {'1-min tick':>11} {'max':>8} {'due/tick':>9} "
              f"{'9h backlog':>11} {'sensor eval':>12}")  # fmt: skip
    print(header)
    backends = [("sqlite", None)]
    pg = postgres_url()
    if pg:
        backends.append(("postgresql", pg))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ROUTINES_HOME"] = tmp
        for backend, pg_info in backends:
            for n in sizes:
                if backend == "sqlite":
                    url = f"sqlite:///{tmp}/bench_{n}.db"
                    cleanup = None
                else:
                    admin_url, admin = pg_info
                    schema = f"bench_{uuid.uuid4().hex[:10]}"
                    with admin.connect() as connection:
                        connection.execute(text(f'create schema "{schema}"'))
                    separator = "&" if "?" in admin_url else "?"
                    url = f"{admin_url}{separator}options={quote(f'-csearch_path={schema}')}"
                    cleanup = (admin, schema)
                try:
                    r = measure(url, n)
                finally:
                    if cleanup:
                        from routines.database.engine import get_engine

                        get_engine(url).dispose()
                        with cleanup[0].connect() as connection:
                            connection.execute(text(f'drop schema "{cleanup[1]}" cascade'))
                print(
                    f"{backend:<10} {n:>6} {r['quiet_ms']:>9.1f}ms {r['normal_ms']:>9.1f}ms {r['normal_max_ms']:>6.1f}ms "
                    f"{r['due_per_tick']:>9.1f} {r['backlog_ms']:>9.0f}ms {r['sensor_ms']:>10.1f}ms",
                    flush=True,
                )
    print("quiet tick: nothing due; 1-min tick: steady state, a tick a minute (median, max of 10);")
    print("9h backlog: first tick after 9 hours down (<= 1,000 definitions per tick, catch-up limit 3);")
    print(
        "sensor eval: the Dagster sensor evaluate_tick incl. dynamic-partition sync and run requests (median)."
    )
    print("goal: < 1,000 ms per tick at 10,000 definitions")


if __name__ == "__main__":
    main()
