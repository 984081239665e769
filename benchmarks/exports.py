"""Benchmark of the exports domain, every figure against a baseline measured in the same run.

A. 100,000-row `invoices_month`-shaped XLSX (the export's own writer, formats and all) vs a bare xlsxwriter
   `write()` of the same cells. Goal: <= 1.3x.
B. Progress reporting: the same export with its progress written to a real task row (throttled, as in
   production) vs without progress. Goal: < 5% of the export's time.
C. 200 small tasks inserted at once on a real deployment (dagster-daemon, code server, one process per run,
   pool `exports` = 5): all complete; the pool's limit is never exceeded (tasks processing at once, from the
   task rows, and Dagster's claimed slots, sampled); total vs ideal = ceil(200 / 5) x one task alone.
D. The sensor tick (Dagster `evaluate_tick`) with 10,000 pending tasks, SQLite and PostgreSQL. Goal: < 1 s.

    .venv/bin/python benchmarks/exports.py [--rows 100000] [--repeat 3] [--tasks 200] [--skip-daemon]
"""

from __future__ import annotations

import argparse
import gc
import io
import math
import os
import platform
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import dagster as dg  # noqa: E402
import xlsxwriter  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from routines.companies.demo import seed_demo  # noqa: E402
from routines.companies.models import User  # noqa: E402
from routines.database import migrate  # noqa: E402
from routines.database.engine import get_engine, session_scope  # noqa: E402
from routines.exports import service  # noqa: E402
from routines.exports.config import ExportsConfig  # noqa: E402
from routines.exports.context import CompanyRef, ExportContext, UserRef  # noqa: E402
from routines.exports.models import ExportTask  # noqa: E402
from routines.exports.tables import Sheet, local_naive, write_xlsx  # noqa: E402
from routines.exports.types.invoices import INVOICE_COLUMNS  # noqa: E402

POSTGRES = os.environ.get("ROUTINES_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def invoice_rows(n: int) -> list[tuple]:
    """Rows as `invoice_rows` yields them: ints, texts, aware UTC timestamps, some NULLs."""
    t0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    statuses = ["AGUARDANDO_APROVACAO", "UPLOAD_REALIZADO", "FALHA_DOWNLOAD", "AGUARDANDO_ENVIO_SAT"]
    return [
        (i, "06/2025", f"Cliente {i % 5000:05d} Comércio de Telecom Ltda.", f"11.222.{i % 1000:03d}/0001-81",
         ("VIVO", "CLARO", "TIM", "OI")[i % 4], statuses[i % 4], i % 3, f"invoices/2025/06/01/VIVO-cliente{i}-processo{i}.pdf",
         f"{i:064x}", 100_000 + i, "ana.souza" if i % 2 else None, t0 + timedelta(minutes=i) if i % 2 else None,
         None, None, f"SAT-{i:08d}" if i % 4 == 1 else None, t0 + timedelta(hours=1, minutes=i) if i % 4 == 1 else None,
         "RPA: timeout" if i % 4 == 2 else None, t0, t0 + timedelta(seconds=i))
        for i in range(n)
    ]  # fmt: skip


def bare_write(rows: list[tuple]) -> bytes:
    """Baseline: the same cells through xlsxwriter's generic write() (timestamps given ready, naive local)."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"constant_memory": True, "default_date_format": "dd/mm/yyyy hh:mm"}
    )
    sheet = workbook.add_worksheet("Faturas")
    sheet.write_row(0, 0, [c.name for c in INVOICE_COLUMNS])
    write = sheet.write
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            write(r, c, value)
    workbook.close()
    return buffer.getvalue()


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def part_a_b(rows_count: int, repeat: int, workdir: Path) -> None:
    rows = invoice_rows(rows_count)
    naive = [tuple(local_naive(v) if isinstance(v, datetime) else v for v in row) for row in rows]
    cells = rows_count * len(INVOICE_COLUMNS)
    print(
        f"\nA. {rows_count:,} rows x {len(INVOICE_COLUMNS)} columns ({cells:,} cells), best of {repeat}, alternating"
    )
    bare_times, ours_times = [], []
    for _ in range(repeat):
        bare_times.append(best(lambda: bare_write(naive), 1))
        ours_times.append(best(lambda: write_xlsx([Sheet("Faturas", INVOICE_COLUMNS, iter(rows))]), 1))
    bare_s, ours_s = min(bare_times), min(ours_times)
    print(f"   bare xlsxwriter write():          {bare_s:6.2f} s")
    print(f"   exports writer (formats, widths): {ours_s:6.2f} s")
    print(f"   ratio: {ours_s / bare_s:.2f}x (goal <= 1.30x: {'OK' if ours_s / bare_s <= 1.3 else 'MISSED'})")

    for label, url in (
        ("SQLite", f"sqlite:///{workdir / 'progress.db'}"),
        ("PostgreSQL", postgres_schema(workdir)),
    ):
        if url is None:
            print(f"\nB. ({label}: unreachable, skipped)")
            continue
        engine, task_id, run_id = claimed_task(url)
        context = ExportContext(
            engine=engine, store=None, task_id=task_id, now=datetime.now(UTC),
            company=CompanyRef(1, "BEG", "BEG"), user=UserRef(1, "Ana", "ana@beg.com.br"),
        )  # fmt: skip
        interval = ExportsConfig().progress_interval
        without, with_progress, writes = [], [], []
        for _ in range(repeat):
            without.append(best(lambda: write_xlsx([Sheet("Faturas", INVOICE_COLUMNS, iter(rows))]), 1))
            reporter = service.ProgressReporter(engine, task_id, run_id, interval)
            context.report_progress = reporter
            with_progress.append(
                best(
                    lambda c=context: write_xlsx(
                        [Sheet("Faturas", INVOICE_COLUMNS, iter(rows))], c.rows_progress(len(rows))
                    ),
                    1,
                )
            )
            writes.append(reporter.writes)
        # the cost itself: one progress write, timed alone
        reporter = service.ProgressReporter(engine, task_id, run_id, 0)
        start = time.perf_counter()
        for step in range(1, 51):
            reporter(step, 100, f"{step} linhas escritas")
        write_s = (time.perf_counter() - start) / 50
        base, ours = min(without), min(with_progress)
        print(f"\nB. progress to a task row ({label}, throttle {interval} s): {writes} writes per export")
        print(
            f"   export without progress: {base:6.2f} s; with progress: {ours:6.2f} s -> {100 * (ours / base - 1):+.1f}%"
        )
        estimate = 100 * max(writes) * write_s / base
        print(f"   one progress write: {write_s * 1000:.2f} ms -> writes x cost = {estimate:.2f}% of the export "
              f"(goal < 5%: {'OK' if estimate < 5 and ours / base < 1.05 else 'MISSED'})")  # fmt: skip
        engine.dispose()


def postgres_schema(workdir: Path) -> str | None:
    import uuid
    from urllib.parse import quote

    from sqlalchemy import create_engine

    try:
        admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            connection.execute(text(f'create schema "{schema}"'))
    except Exception:  # noqa: BLE001
        return None
    SCHEMAS.append(schema)
    return f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}options={quote(f'-csearch_path={schema}')}"


SCHEMAS: list[str] = []


def drop_schemas() -> None:
    from sqlalchemy import create_engine

    if not SCHEMAS:
        return
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for schema in SCHEMAS:
            connection.execute(text(f'drop schema if exists "{schema}" cascade'))


def prepared(url: str) -> tuple:
    migrate.upgrade(url)
    engine = get_engine(url)
    with session_scope(engine) as session:
        seed_demo(session)
        user = session.scalar(select(User).where(User.email == "bruno.lima@beg.com.br"))
        return engine, user.id, user.company_id


def claimed_task(url: str) -> tuple:
    engine, user_id, _ = prepared(url)
    with session_scope(engine) as session:
        task = service.create_task(
            session, task_type="invoices_month", user=user_id, payload={"month": "2025-06"}
        )
        (plan,) = service.request_pending(session, datetime.now(UTC), ExportsConfig())
    service.claim_task(engine, task.id, run_id="bench", run_key=plan.run_key, slots=5)
    return engine, task.id, "bench"


def bulk_tasks(engine, user_id: int, company_id: int, count: int, month: str = "2025-06") -> None:
    with session_scope(engine) as session:
        session.execute(
            insert(ExportTask),
            [{"task_type": "invoices_month", "user_id": user_id, "company_id": company_id, "payload": {"month": month},
              "status": "pending", "priority": i % 3, "created_at": datetime.now(UTC)} for i in range(count)],
        )  # fmt: skip


def part_d(workdir: Path, pending: int) -> None:
    from routines.defs.exports.jobs import export_task_job
    from routines.defs.exports.sensors import build_export_tasks_sensor
    from routines.lib.resources import DatabaseResource

    print(f"\nD. sensor tick (Dagster evaluate_tick, run requests included) with {pending:,} pending tasks")
    for label, url in (
        ("SQLite", f"sqlite:///{workdir / 'sensor.db'}"),
        ("PostgreSQL", postgres_schema(workdir)),
    ):
        if url is None:
            print(f"   {label}: unreachable, skipped")
            continue
        for batch in (1000, pending):
            engine, user_id, company_id = prepared(url)
            with engine.begin() as connection:
                connection.execute(text("DELETE FROM export_tasks"))
            bulk_tasks(engine, user_id, company_id, pending)
            os.environ["ROUTINES_EXPORTS_TICK_BATCH"] = str(batch)
            ticks = []
            with tempfile.TemporaryDirectory() as home, dg.instance_for_test(temp_dir=home) as instance:
                now = datetime.now(UTC)
                sensor = build_export_tasks_sensor(export_task_job, clock=lambda now=now: now)
                for _ in range(math.ceil(pending / batch) + 1):
                    context = dg.build_sensor_context(
                        instance=instance, resources={"database": DatabaseResource(url=url)}
                    )
                    start = time.perf_counter()
                    result = sensor.evaluate_tick(context)
                    ticks.append((time.perf_counter() - start, len(result.run_requests or [])))
            first, steady = ticks[0], ticks[-1]
            worst = max(t for t, _ in ticks)
            print(f"   {label:10s} batch {batch:>6,}: first tick {first[0] * 1000:7.1f} ms ({first[1]:,} run requests); "
                  f"worst {worst * 1000:7.1f} ms; all requested, nothing new: {steady[0] * 1000:6.1f} ms "
                  f"({steady[1]} requests) (goal < 1 s: {'OK' if worst < 1 else 'MISSED'})")  # fmt: skip
        os.environ.pop("ROUTINES_EXPORTS_TICK_BATCH", None)


def part_c(workdir: Path, tasks: int, limit: int) -> None:
    from routines_tests.exports.daemon import deployment

    url = f"sqlite:///{workdir / 'daemon.db'}"
    engine, user_id, company_id = prepared(url)
    store = workdir / "files"
    print(f"\nC. {tasks} small tasks at once on dagster-daemon (one process per run), pool exports = {limit}")
    with deployment(workdir / "deploy", url, store) as deploy:
        instance = deploy.instance()
        instance.event_log_storage.set_concurrency_slots("exports", limit)

        def all_done(count: int) -> bool:
            with engine.connect() as connection:
                return (
                    connection.scalar(
                        select(func.count())
                        .select_from(ExportTask)
                        .where(ExportTask.status.in_(["completed", "failed"]))
                    )
                    >= count
                )

        # a warm-up task (code server up, first imports), then one task alone: the unit of the ideal
        for label in ("warm-up", "alone"):
            before = time.monotonic()
            bulk_tasks(engine, user_id, company_id, 1)
            done = 1 if label == "warm-up" else 2
            deploy.wait_for(lambda d=done: all_done(d), 600, f"the {label} task")
            alone = time.monotonic() - before
        with engine.connect() as connection:
            run_s = connection.execute(
                select(ExportTask.started_at, ExportTask.finished_at).order_by(ExportTask.id.desc()).limit(1)
            ).one()
        print(
            f"   one task alone: {alone:.1f} s from insert to completed (its op: {(run_s[1] - run_s[0]).total_seconds():.2f} s)"
        )

        slots_seen = [0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                info = instance.event_log_storage.get_concurrency_info("exports")
                slots_seen[0] = max(slots_seen[0], info.active_slot_count)
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.monotonic()
        bulk_tasks(engine, user_id, company_id, tasks)
        deploy.wait_for(lambda: all_done(tasks + 2), 7200, f"{tasks} tasks", every=1)
        total = time.monotonic() - start
        stop.set()
        sampler.join(5)
        with engine.connect() as connection:
            rows = connection.execute(
                select(ExportTask.id, ExportTask.status, ExportTask.started_at, ExportTask.finished_at)
                .order_by(ExportTask.id)
                .offset(2)
            ).all()
    ran = [r for r in rows if r.started_at is not None]  # a run failed before its op started has no start
    events = sorted(
        [(r.started_at, 1) for r in ran] + [(r.finished_at, -1) for r in ran], key=lambda e: (e[0], e[1])
    )
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    completed = sum(r.status == "completed" for r in rows)
    ideal = math.ceil(tasks / limit) * alone
    print(f"   completed {completed}/{tasks}; tasks processing at once (task rows): max {peak}; "
          f"Dagster slots claimed (sampled): max {slots_seen[0]} (limit {limit}: {'never exceeded' if peak <= limit and slots_seen[0] <= limit else 'EXCEEDED'})")  # fmt: skip
    print(
        f"   total {total:.1f} s; ideal ceil({tasks}/{limit}) x {alone:.1f} s = {ideal:.1f} s -> {total / ideal:.2f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--skip-daemon", action="store_true", help="skip part C (minutes)")
    parser.add_argument("--only", choices=("a", "c", "d"), help="run one part (a = A and B)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")  # fmt: skip
    os.environ.setdefault("ROUTINES_HOME", tempfile.mkdtemp(prefix="bench_exports_home_"))
    try:
        with tempfile.TemporaryDirectory(prefix="bench_exports_") as workdir:
            work = Path(workdir)
            if args.only in (None, "a"):
                part_a_b(args.rows, args.repeat, work)
            if args.only in (None, "d"):
                part_d(work, args.pending)
            if args.only == "c" or (args.only is None and not args.skip_daemon):
                part_c(work, args.tasks, args.limit)
    finally:
        drop_schemas()
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
