"""Run many `downloaded_invoices` partitions at once, each in its own process, against one on-disk Dagster
instance - as the daemon launches the runs of a backfill. (Dagster runs in threads of one process deadlock on
logging configuration, and real run workers are processes anyway.) Used by the pool test and the benchmark.

Workers start, import everything, then wait on a shared event so that every run starts at the same moment.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass

from routines.companies.models import Company
from routines.database.engine import get_engine, session_scope
from routines.invoices import service
from routines.invoices.models import Client, ClientOperator, Operator


@dataclass
class BackfillResult:
    outcomes: dict[str, bool]  # partition key -> run success
    seconds: float  # from the start signal to the last run's end
    began: float = 0.0  # time.monotonic() of the start signal


def seed_operators(url: str, operators: int, clients: int, month: str) -> list[str]:
    """`operators` operators with RPA, `clients` clients each, processes created for `month`."""
    codes = [f"OP{i:02d}" for i in range(operators)]
    with session_scope(get_engine(url)) as session:
        company = Company(code="POOL", name="Pool Ltda.")
        session.add(company)
        session.flush()
        client_rows = [Client(company_id=company.id, name=f"Cliente {i}") for i in range(clients)]
        operator_rows = [
            Operator(code=code, name=code, has_rpa=True, rpa_endpoint_name=code.lower()) for code in codes
        ]
        session.add_all(client_rows + operator_rows)
        session.flush()
        session.add_all(
            ClientOperator(client_id=c.id, operator_id=o.id) for c in client_rows for o in operator_rows
        )
        session.flush()
        service.create_month_processes(session, service.month_start(month), "test")
    return codes


def _worker(
    instance_ref, db_url, store_root, rpa_url, rpa_options, month_key, operator, ready, start, results
):
    import dagster as dg

    from routines.defs.invoices.assets import downloaded_invoices, month_operator_key
    from routines_tests.invoices.conftest import make_resources

    instance = dg.DagsterInstance.from_ref(instance_ref)
    resources = make_resources(db_url, store_root, rpa_url, **rpa_options)
    key = month_operator_key(month_key, operator)
    ready.put(operator)
    start.wait(300)
    try:
        result = dg.materialize(
            [downloaded_invoices],
            partition_key=key,
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
        success = result.success
    except Exception:  # noqa: BLE001 - reported as a failed run
        success = False
    results.put((str(key), success, time.monotonic()))


def run_backfill(
    instance,
    db_url,
    store_root,
    rpa_url,
    month_key,
    operators,
    rpa_options=None,
    start_method="fork",
    max_active_runs: int | None = None,
) -> BackfillResult:
    """Run one partition per operator, each in its own process.

    `max_active_runs=None`: every run starts at once (the harshest case for the pool: most runs block on it).
    `max_active_runs=N`: a new run starts when one ends, at most N at a time - as the QueuedRunCoordinator
    dequeues a backfill (with `op_granularity_run_buffer`, it launches up to limit + buffer runs of a full pool).
    """
    context = multiprocessing.get_context(start_method)
    # no SQLite connection of this process may be used by the forked workers ("do not carry an open SQLite
    # connection across fork()"): they open their own
    get_engine(db_url).dispose()
    ready, results = context.Queue(), context.Queue()
    starts = [context.Event() for _ in operators]
    workers = [
        context.Process(
            target=_worker,
            args=(
                instance.get_ref(),
                db_url,
                str(store_root),
                rpa_url,
                rpa_options or {},
                month_key,
                operator,
                ready,
                start,
                results,
            ),
            daemon=True,
        )
        for operator, start in zip(operators, starts, strict=True)
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:  # every run worker is up (Dagster imported) before the backfill starts
            ready.get(timeout=300)
        began = time.monotonic()
        first = len(starts) if max_active_runs is None else max_active_runs
        for start in starts[:first]:
            start.set()
        waiting = list(starts[first:])
        outcomes: dict[str, bool] = {}
        ended = began
        for _ in workers:
            key, success, at = results.get(timeout=600)
            outcomes[key] = success
            ended = max(ended, at)
            if waiting:
                waiting.pop(0).set()
    finally:
        for start in starts:
            start.set()
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.kill()
    return BackfillResult(outcomes=outcomes, seconds=ended - began, began=began)
