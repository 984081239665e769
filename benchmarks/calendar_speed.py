"""Speed of the business-day calendar, against baselines measured in the same run.

(a) Load cost: what building every calendar and business-day partitions definition adds to a code location that
    already imported dagster (goal < 100 ms). Each figure is the median of fresh processes:
      - baseline: `import dagster` alone;
      - + `routines.calendar`, its Dagster resources and partitions (ANBIMA and B3 from 2000, every built-in
        calendar object), with the holiday cache warm (the normal case) and cold (first load after an upgrade of
        the `holidays` package: computes and writes the cache).
(b) Batch business-day counts for 100,000 random date pairs (2001-2040, half-open [start, end)) on ANBIMA:
      - routines: `Calendar.business_days_between_many` (from numpy datetime64 arrays, and from lists of dates);
      - bizdays: `Calendar.vec.bizdays` (its vectorised API) with the ANBIMA calendar it ships;
      - pandas: `CustomBusinessDay(holidays=...)` business-day index + `searchsorted` (the vectorised idiom; the
        per-pair `len(pd.date_range(s, e, freq=cbd))` is timed on 1,000 pairs and extrapolated).
    All results are checked to be equal on pairs whose ends are business days (bizdays adjusts the ends first).

    python benchmarks/calendar_speed.py [--pairs 100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BASELINE = "import time; t = time.perf_counter(); import dagster; print(time.perf_counter() - t)"
CALENDAR_LOAD = """
import time
import dagster
t = time.perf_counter()
from routines.calendar import builtin_names, get_calendar
from routines.defs.calendar.resources import resources
from routines.lib.partitions import business_day_partitions
calendars = [get_calendar(name) for name in builtin_names()]
anbima = business_day_partitions("ANBIMA", "2000-01-03")
b3 = business_day_partitions("B3", "2000-01-03")
resources().get_repository_def()
print(time.perf_counter() - t)
"""


def run_probe(code: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT, env=env
    ).stdout
    return float(out.strip().splitlines()[-1])


def load_cost(runs: int) -> None:
    base_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as home:
        warm_env = {**base_env, "ROUTINES_HOME": home, "ROUTINES_CALENDAR_CACHE_DIR": f"{home}/cache"}
        run_probe(CALENDAR_LOAD, warm_env)  # fills the cache
        baseline = [run_probe(BASELINE, base_env) for _ in range(runs)]
        warm = [run_probe(CALENDAR_LOAD, warm_env) for _ in range(runs)]
        cold = []
        for i in range(max(3, runs // 2)):
            cold_env = {**warm_env, "ROUTINES_CALENDAR_CACHE_DIR": f"{home}/cold-{i}"}
            cold.append(run_probe(CALENDAR_LOAD, cold_env))
    print("(a) load cost, median of fresh processes")
    print(
        f"    import dagster (baseline)                        {statistics.median(baseline) * 1000:8.1f} ms"
    )
    print(f"    + calendar defs and partitions, cache warm       {statistics.median(warm) * 1000:8.1f} ms")
    print(f"    + calendar defs and partitions, cache cold       {statistics.median(cold) * 1000:8.1f} ms")
    ratio = statistics.median(warm) / statistics.median(baseline)
    print(f"    warm cost / import dagster = {ratio:.3f}  (goal: < 100 ms added)")


def best_of(function, runs: int) -> tuple[float, object]:
    result, times = None, []
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def batch_counts(pairs: int, runs: int) -> None:
    import bizdays
    import numpy as np
    import pandas as pd

    from routines.calendar import get_calendar

    rng = np.random.default_rng(42)
    first = np.datetime64("2001-01-01")
    starts = first + rng.integers(0, 365 * 40, pairs).astype("timedelta64[D]")
    ends = starts + rng.integers(0, 365 * 3, pairs).astype("timedelta64[D]")
    start_list, end_list = starts.astype(object).tolist(), ends.astype(object).tolist()

    anbima = get_calendar("ANBIMA")
    started = time.perf_counter()
    anbima.business_days_between_many(starts, ends)  # first call: builds the 2001-2043 day table
    first_call = time.perf_counter() - started
    ours_time, ours = best_of(lambda: anbima.business_days_between_many(starts, ends), runs)
    ours_list_time, ours_from_list = best_of(
        lambda: anbima.business_days_between_many(start_list, end_list), runs
    )

    oracle = bizdays.Calendar.load("ANBIMA")
    biz_time, theirs = best_of(lambda: np.fromiter(oracle.vec.bizdays(start_list, end_list), "int64"), 1)

    holidays = [d for d in oracle.holidays]
    cbd = pd.offsets.CustomBusinessDay(holidays=holidays)

    def pandas_counts():
        index = pd.date_range("2000-01-01", "2045-12-31", freq=cbd)
        start_index, end_index = pd.DatetimeIndex(starts), pd.DatetimeIndex(ends)
        return index.searchsorted(end_index) - index.searchsorted(start_index)

    pandas_time, pandas_result = best_of(pandas_counts, runs)
    sample = 1000
    per_pair_time, _ = best_of(
        lambda: [
            len(pd.date_range(s, e - pd.Timedelta(days=1), freq=cbd))
            for s, e in zip(start_list[:sample], end_list[:sample], strict=True)
        ],
        1,
    )

    flags = anbima.is_business_day_many(starts) & anbima.is_business_day_many(ends)
    assert np.array_equal(ours, ours_from_list)
    assert np.array_equal(ours, np.asarray(pandas_result))
    assert np.array_equal(ours[flags], theirs[flags]), "routines and bizdays disagree on business-day pairs"

    print(f"(b) business days between {pairs:,} date pairs (ANBIMA, best of {runs}; bizdays 1 run)")
    rows = [
        ("routines business_days_between_many (datetime64)", ours_time),
        ("routines business_days_between_many (lists of date)", ours_list_time),
        ("routines first call (incl. holidays + day table build)", first_call),
        ("pandas CustomBusinessDay index + searchsorted", pandas_time),
        ("bizdays Calendar.vec.bizdays", biz_time),
        (f"pandas date_range per pair (extrapolated from {sample:,})", per_pair_time * pairs / sample),
    ]
    for label, seconds in rows:
        print(f"    {label:58s} {seconds * 1000:10.1f} ms   x{seconds / ours_time:9.1f}")
    print(
        f"    agreement: {int(flags.sum()):,} pairs with business-day ends equal to bizdays; all equal to pandas"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    load_cost(args.runs)
    batch_counts(args.pairs, args.runs)


if __name__ == "__main__":
    main()
