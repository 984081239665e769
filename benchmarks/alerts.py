"""Benchmark: the deadline sensor's tick with 200 assets x 250 business days of history, and the catch-up
sensor's tick on 5 years of daily partitions. Goals: < 1 s each.

Each measure has a baseline taken in the same run on the same instance: a bare instance query of the same
materializations (deadline: `fetch_materializations` of each asset's evaluated partitions; catch-up:
`get_materialized_partitions` of each asset), printed with the ratio. The Dagster instance is a temporary SQLite
instance on PostgreSQL (the production storage, dagster-postgres; a throwaway database on
ROUTINES_TEST_POSTGRES_URL's server, dropped at the end), the business database a migrated SQLite file. History is
written with the event log's batch store (runless materializations), not timed.

Run: .venv/bin/python benchmarks/alerts.py [--assets 200] [--days 250] [--catch-up-assets 10] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime

import dagster as dg

from routines.alerts.deadlines import TIMEZONE

NOW = datetime(2025, 3, 7, 21, 0, tzinfo=TIMEZONE)  # Friday after Carnival, after the 20:00 deadline
DEADLINE = {"calendar": "B3", "time": "20:00", "business_days_after": 0}


@contextmanager
def postgres_instance():
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = os.environ.get(
        "ROUTINES_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    )
    name = f"bench_alerts_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": url}}}) as instance:
            yield instance
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'drop database "{name}" with (force)'))
        admin.dispose()


def store_history(instance, keys, partitions) -> int:
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry

    entries = []
    count = 0
    for key in keys:
        for partition in partitions:
            event = DagsterEvent(
                DagsterEventType.ASSET_MATERIALIZATION.value,
                job_name="__runless__",
                event_specific_data=StepMaterializationData(
                    dg.AssetMaterialization(key, partition=partition)
                ),
            )
            entries.append(
                EventLogEntry(
                    user_message="", level=20, job_name="__runless__", run_id="", error_info=None,
                    timestamp=time.time(), dagster_event=event,
                )
            )  # fmt: skip
            if len(entries) >= 2000:
                instance.event_log_storage.store_event_batch(entries)
                count += len(entries)
                entries = []
        # a batch updates the asset's record with its last event only: one asset per batch
        if entries:
            instance.event_log_storage.store_event_batch(entries)
            count += len(entries)
            entries = []
    if entries:
        instance.event_log_storage.store_event_batch(entries)
        count += len(entries)
    return count


def regularized(db_url: str) -> int:
    from sqlalchemy import func, select

    from routines.alerts.models import SentAlert
    from routines.database.engine import get_engine, session_scope

    with session_scope(get_engine(db_url)) as session:
        return session.scalar(
            select(func.count()).select_from(SentAlert).where(SentAlert.kind == "deadline_met")
        )


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def deadline_benchmark(n_assets: int, n_days: int, repeat: int, db_url: str) -> None:
    from routines.alerts.deadlines import Deadline, partitions_to_fetch
    from routines.calendar.registry import get_calendar
    from routines.defs.alerts.deadlines import build_deadline_sensor, deadline_checks, lookback
    from routines.lib.partitions import business_day_partitions
    from routines.lib.resources import DatabaseResource

    b3 = get_calendar("B3")
    first = b3.offset(NOW.date(), -(n_days - 1))
    partitions_def = business_day_partitions("B3", first, end_date="2025-03-08")
    keys = partitions_def.get_partition_keys()
    assert len(keys) == n_days, (len(keys), n_days)
    specs = [
        dg.AssetSpec(
            f"asset_{i:03d}", partitions_def=partitions_def, metadata={"routines/deadline": DEADLINE}
        )
        for i in range(n_assets)
    ]
    clock = {"now": NOW.replace(hour=19)}  # the sensor starts before the 20:00 deadline of the last session
    sensor = build_deadline_sensor(clock=lambda: clock["now"])
    defs = dg.Definitions(
        assets=specs, sensors=[sensor], asset_checks=deadline_checks(dg.Definitions(assets=specs))
    )
    repository = defs.get_repository_def()
    with postgres_instance() as instance:
        started = time.perf_counter()
        stored = store_history(instance, [s.key for s in specs], keys[:-1])  # the last session missing
        print(f"  history: {stored:,} materializations stored in {time.perf_counter() - started:.1f} s")
        window = partitions_to_fetch(Deadline.parse(DEADLINE), b3, NOW, lookback())

        def baseline():
            for spec in specs:
                instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=spec.key, asset_partitions=window), limit=len(window) * 20
                )

        state = {"cursor": None}

        def tick():
            with dg.build_sensor_context(
                instance=instance, repository_def=repository, cursor=state["cursor"],
                resources={"database": DatabaseResource(url=db_url)},
            ) as context:  # fmt: skip
                sensor(context)
                state["cursor"] = context.cursor

        first_tick = timed(tick, 1)[0]  # every asset fetched, 200 check results (warnings) reported
        clock["now"] = NOW
        miss_tick = timed(tick, 1)[0]  # 20:00 passed: 200 check results (failed), 200 misses alerted
        base = timed(baseline, repeat)
        steady = timed(tick, repeat)
        b, s = statistics.median(base), statistics.median(steady)
        print(
            f"  first tick ({n_assets} assets fetched, {n_assets} check results): {first_tick * 1000:.0f} ms; "
            f"tick when the deadline passed ({n_assets} check results, {n_assets} misses alerted): "
            f"{miss_tick * 1000:.0f} ms"
        )
        print(
            f"  steady tick: median {s * 1000:.0f} ms (min {min(steady) * 1000:.0f}, max {max(steady) * 1000:.0f})"
        )
        print(f"  baseline (bare fetch_materializations of the same partitions): median {b * 1000:.0f} ms")
        print(
            f"  ratio steady tick / baseline: {s / b:.2f}x; goal < 1 s: {'met' if max(steady) < 1 else 'NOT met'}"
        )
        tenth = max(1, n_assets // 10)
        store_history(
            instance, [spec.key for spec in specs[:tenth]], keys[-1:]
        )  # the missing session arrives
        changed = timed(tick, 1)[0]
        print(f"  tick after {tenth} assets got their session ({tenth} re-fetched, check results and "
              f"'regularizado' alerts): {changed * 1000:.0f} ms ({changed / b:.2f}x baseline)")  # fmt: skip
        store_history(instance, [spec.key for spec in specs[tenth:]], keys[-1:])
        everything = timed(tick, 1)[0]
        met = regularized(db_url)
        print(f"  tick after all other {n_assets - tenth} assets got theirs at once: {everything * 1000:.0f} ms "
              f"({everything / b:.2f}x baseline); 'regularizado' alerts recorded: {met}")  # fmt: skip


def catch_up_benchmark(n_assets: int, repeat: int) -> None:
    from routines.defs.alerts.catch_up import build_catch_up_sensor, catch_up_jobs
    from routines.lib.partitions import business_day_partitions

    partitions_def = business_day_partitions("B3", "2020-03-02", end_date="2025-03-08")  # 5 years
    keys = partitions_def.get_partition_keys()
    assets = []
    for i in range(n_assets):

        @dg.asset(
            name=f"daily_{i:02d}", partitions_def=partitions_def, pool="b3",
            metadata={"routines/deadline": DEADLINE}, tags={"routines/catch_up_lookback": "10"},
        )  # fmt: skip
        def _asset() -> None:
            return None

        assets.append(_asset)
    base_defs = dg.Definitions(assets=assets)
    jobs = catch_up_jobs(base_defs)
    sensor = build_catch_up_sensor(jobs, clock=lambda: NOW)
    defs = dg.Definitions(assets=assets, jobs=list(jobs.values()), sensors=[sensor])
    repository = defs.get_repository_def()
    with postgres_instance() as instance:
        history = [
            k for k in keys if k not in ("2025-02-26", "2025-03-06")
        ]  # two missing days in the lookback
        started = time.perf_counter()
        stored = store_history(instance, [a.key for a in assets], history)
        print(f"  history: {stored:,} materializations ({len(keys)} partitions x {n_assets} assets) "
              f"stored in {time.perf_counter() - started:.1f} s")  # fmt: skip
        requested = {}

        def tick():
            with dg.build_sensor_context(instance=instance, repository_def=repository) as context:
                result = sensor(context)
            requested["n"] = len(result) if isinstance(result, list) else 0

        def baseline():
            for asset in assets:
                instance.get_materialized_partitions(asset.key)

        first_tick = timed(tick, 1)[0]
        base = timed(baseline, repeat)
        steady = timed(tick, repeat)
        b, s = statistics.median(base), statistics.median(steady)
        print(
            f"  first tick (status cache built): {first_tick * 1000:.0f} ms; requests per tick: {requested['n']}"
        )
        print(
            f"  tick: median {s * 1000:.0f} ms (min {min(steady) * 1000:.0f}, max {max(steady) * 1000:.0f})"
        )
        print(f"  baseline (bare get_materialized_partitions of every asset): median {b * 1000:.0f} ms")
        print(f"  ratio tick / baseline: {s / b:.2f}x; goal < 1 s: {'met' if max(steady) < 1 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--catch-up-assets", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="routines-bench-alerts-") as folder:
        from routines.database import migrate

        db_url = f"sqlite:///{folder}/business.db"
        migrate.upgrade(db_url)
        os.environ["ROUTINES_DATABASE_URL"] = db_url
        print(f"deadline sensor: {args.assets} assets x {args.days} business days of history")
        deadline_benchmark(args.assets, args.days, args.repeat, db_url)
        print(f"catch-up sensor: {args.catch_up_assets} assets x 5 years of daily (B3) partitions")
        catch_up_benchmark(args.catch_up_assets, args.repeat)


if __name__ == "__main__":
    main()
