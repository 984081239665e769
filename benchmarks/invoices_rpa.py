"""Benchmark: 100 invoice downloads at an RPA limit of 5, whatever the mix of operators and clients.

Two mixes of 100 client x operator downloads of one month, each a backfill of `downloaded_invoices` partitions
(one run per partition, each run in its own process as run workers are, one on-disk Dagster instance with the
pool `rpa` at the limit) against the fake RPA server (real HTTP on loopback) with 1 s jobs:

- 10 x 10: 10 operators with 10 clients each (10 partitions);
- 1 x 100: 1 operator with 100 clients (1 partition: one op must follow 5 jobs at once to use the limit).

For each: the maximum of jobs in flight the fake RPA saw (must equal the limit, never exceed it) and the total
time against ceil(100 / 5) x the time of one job downloaded alone through the same client, measured in the same
run (goal <= 1.3x). Prints the machine's load average too.

    .venv/bin/python benchmarks/invoices_rpa.py [--mix 10x10 --mix 1x100] [--limit 5] [--latency 1]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
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
GOAL = 1.3


def single_job_seconds(latency: float) -> float:
    """One job alone through the same client settings: job latency + polling granularity + file fetch."""
    with fake_rpa(latency=latency, log_lines=5) as (rpa_url, _rpa):
        client = RpaClient(HttpClient("RPA", rpa_url, TOKEN), poll_interval=0.05, max_poll_interval=0.1)
        started = time.monotonic()
        assert client.run_job("baseline", {"competencia": "2025-06", "cliente": {"id": 0}}).ok
        return time.monotonic() - started


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children (the run workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_mix(operators: int, clients: int, limit: int, latency: float, run_buffer: int) -> dict:
    cpu_before = cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="invoices-bench-") as folder:
        root = Path(folder)
        url = f"sqlite:///{root / 'business.db'}"
        migrate.upgrade(url)
        codes = seed_operators(url, operators, clients, "2025-06-01")
        overrides = {"concurrency": {"pools": {"granularity": "op", "default_limit": limit}}}
        with (
            fake_rpa(latency=latency, log_lines=5) as (rpa_url, rpa),
            dg.instance_for_test(temp_dir=str(root), overrides=overrides) as instance,
        ):
            # `dagster instance concurrency set rpa N` (see the README, "Invoices"): set before the backfill
            instance.event_log_storage.set_concurrency_slots("rpa", limit)
            instance.add_dynamic_partitions("invoice_operators", codes)
            result = run_backfill(
                instance,
                url,
                root / "files",
                rpa_url,
                "2025-06-01",
                codes,
                RPA_OPTIONS,
                max_active_runs=None if run_buffer < 0 else limit + run_buffer,
            )
            slots = instance.event_log_storage.get_concurrency_info("rpa")
            per_process = rpa.jobs_per_process()
            starts = sorted(job.started for job in rpa.jobs.values())
            busy = sum(job.latency for job in rpa.jobs.values())
    return {
        "runs_ok": sum(result.outcomes.values()),
        "runs": len(result.outcomes),
        "jobs": len(rpa.jobs),
        "duplicates": sum(count - 1 for count in per_process.values()),
        "max_in_flight": rpa.max_in_flight,
        "seconds": result.seconds,
        "slots_in_use_after": slots.active_slot_count,
        "cpu": cpu_seconds() - cpu_before,
        # where the time went: before the first job, after the last one, and how full the limit was meanwhile
        "first_job_after": starts[0] - result.began if starts else 0.0,
        "last_job_end_before_end": result.began + result.seconds - (starts[-1] + latency) if starts else 0.0,
        "average_in_flight": busy / max(1e-9, starts[-1] + latency - starts[0]) if starts else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", action="append", help="OPERATORSxCLIENTS (default: 10x10 and 1x100)")
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument(
        "--run-buffer",
        type=int,
        default=1,
        help="runs active beyond the limit (op_granularity_run_buffer); -1 = every run at once",
    )
    args = parser.parse_args()
    mixes = [tuple(int(part) for part in mix.lower().split("x")) for mix in args.mix or ["10x10", "1x100"]]
    single = single_job_seconds(args.latency)
    print(
        f"machine: {os.cpu_count()} CPU(s), load average {'/'.join(f'{v:.1f}' for v in os.getloadavg())}; "
        f"limit {args.limit}, jobs of {args.latency:g} s; one job alone: {single:.2f} s"
    )
    failed = False
    for operators, clients in mixes:
        total = operators * clients
        measured = run_mix(operators, clients, args.limit, args.latency, args.run_buffer)
        ideal = math.ceil(total / args.limit) * single
        ratio = measured["seconds"] / ideal
        print(
            f"{operators} x {clients}: runs {measured['runs_ok']}/{measured['runs']}, jobs {measured['jobs']}/{total} "
            f"(duplicates {measured['duplicates']}), max in flight {measured['max_in_flight']} (limit {args.limit}), "
            f"total {measured['seconds']:.1f} s for ceil({total}/{args.limit}) x {single:.2f} s = {ideal:.1f} s: "
            f"ratio {ratio:.2f} (goal <= {GOAL}); first job after {measured['first_job_after']:.1f} s, "
            f"{measured['average_in_flight']:.2f} jobs in flight on average from the first to the last, last run "
            f"ended {measured['last_job_end_before_end']:.1f} s after the last job; CPU used {measured['cpu']:.1f} s; "
            f"load average now {os.getloadavg()[0]:.1f}"
        )
        if measured["max_in_flight"] > args.limit:
            print("FAIL: the limit was exceeded")
            failed = True
        if measured["runs_ok"] != measured["runs"] or measured["jobs"] != total or measured["duplicates"]:
            print("FAIL: not every download ran exactly once")
            failed = True
        if measured["max_in_flight"] < args.limit:
            print("FAIL: the limit was not used in full")
            failed = True
        if ratio > GOAL:
            print(f"over the goal: {ratio:.2f} > {GOAL}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
