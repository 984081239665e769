"""Benchmark: 100 client x operator invoice downloads through the `rpa` concurrency pool.

10 operators x 10 clients = 100 RPA jobs of 1 s each on the fake RPA server (real HTTP on loopback), downloaded by
a backfill of the 10 `downloaded_invoices` partitions of one month: 10 runs started at once (one process each, as
run workers), one on-disk Dagster instance whose pools default to 5 (as `concurrency.pools.default_limit` in
dagster.yaml). Each op holds one `rpa` slot and runs one job at a time, so at most 5 jobs may be in flight.

Prints the maximum concurrency the fake RPA observed (must equal the limit, never exceed it) and total time /
ideal time, ideal = ceil(100 / 5) x 1 s; also against a baseline measured in the same run: ceil(100/5) x the
time of one job downloaded alone through the same client (job latency + polling + file fetch).

    .venv/bin/python benchmarks/invoices_rpa.py [--downloads-per-operator 10] [--operators 10] [--limit 5]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import dagster as dg  # noqa: E402

from routines.database import migrate  # noqa: E402
from routines.http import HttpClient  # noqa: E402
from routines.invoices.rpa import RpaClient  # noqa: E402
from routines_tests.invoices.backfill import run_backfill, seed_operators  # noqa: E402
from routines_tests.invoices.fakes import TOKEN, fake_rpa  # noqa: E402

# Polling tuned to 1 s jobs (production defaults: 2 s growing to 30 s, for jobs of minutes).
RPA_OPTIONS = {"poll_interval_seconds": 0.05, "max_poll_interval_seconds": 0.1, "job_timeout_seconds": 60.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operators", type=int, default=10)
    parser.add_argument("--downloads-per-operator", type=int, default=10)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument(
        "--run-buffer",
        type=int,
        default=1,
        help="runs active beyond the limit (op_granularity_run_buffer); -1 = every run at once",
    )
    args = parser.parse_args()
    total = args.operators * args.downloads_per_operator
    with tempfile.TemporaryDirectory(prefix="invoices-bench-") as folder:
        root = Path(folder)
        url = f"sqlite:///{root / 'business.db'}"
        migrate.upgrade(url)
        codes = seed_operators(url, args.operators, args.downloads_per_operator, "2025-06-01")
        overrides = {"concurrency": {"pools": {"granularity": "op", "default_limit": args.limit}}}
        with fake_rpa(latency=args.latency, log_lines=5) as (rpa_url, rpa):
            # baseline: one job alone through the same client settings
            client = RpaClient(HttpClient("RPA", rpa_url, TOKEN), poll_interval=0.05, max_poll_interval=0.1)
            started = time.monotonic()
            assert client.run_job("baseline", {"competencia": "2025-06", "cliente": {"id": 0}}).ok
            single = time.monotonic() - started
            rpa.jobs.clear()
            rpa.max_in_flight = 0
            with dg.instance_for_test(temp_dir=str(root), overrides=overrides) as instance:
                # `dagster instance concurrency set rpa N` (see the README, "Invoices"): the pool is set before
                # the backfill; the lazily applied default limit can race when many first runs start together
                instance.event_log_storage.set_concurrency_slots("rpa", args.limit)
                instance.add_dynamic_partitions("invoice_operators", codes)
                active = None if args.run_buffer < 0 else args.limit + args.run_buffer
                result = run_backfill(
                    instance,
                    url,
                    root / "files",
                    rpa_url,
                    "2025-06-01",
                    codes,
                    RPA_OPTIONS,
                    max_active_runs=active,
                )
                slots = instance.event_log_storage.get_concurrency_info("rpa")
    ok = sum(result.outcomes.values())
    ideal = math.ceil(total / args.limit) * args.latency
    measured_ideal = math.ceil(total / args.limit) * single
    print(
        f"machine: {_cpus()} CPU(s); {args.operators} partitions x {args.downloads_per_operator} downloads, "
        f"job latency {args.latency:g} s, pool limit {args.limit}, active runs "
        f"{'all at once' if args.run_buffer < 0 else f'limit + {args.run_buffer}'}"
    )
    print(
        f"runs succeeded: {ok}/{len(result.outcomes)}; RPA jobs: {len(rpa.jobs)}/{total}; "
        f"slots in use after: {slots.active_slot_count}; slots: {slots.slot_count}"
    )
    print(f"max RPA jobs in flight: {rpa.max_in_flight} (limit {args.limit})")
    print(
        f"total time: {result.seconds:.1f} s; ideal ceil({total}/{args.limit}) x {args.latency:g} s = {ideal:.1f} s; "
        f"ratio {result.seconds / ideal:.2f}"
    )
    print(
        f"one job alone: {single:.2f} s; measured ideal {measured_ideal:.1f} s; "
        f"ratio {result.seconds / measured_ideal:.2f}"
    )
    if rpa.max_in_flight > args.limit:
        print("FAIL: the pool limit was exceeded")
        return 1
    if ok != len(result.outcomes) or len(rpa.jobs) != total:
        print("FAIL: not every download ran")
        return 1
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
