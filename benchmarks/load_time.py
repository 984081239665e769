"""Load time of the `routines` code location against a one-asset Dagster project, measured in the same run.

Two measurements, each in a fresh process, alternating between the two projects (median of each compared):
- `dagster definitions validate -m MODULE`: what loading a code location costs the webserver and the daemon;
- a bare `import MODULE; defs.get_repository_def()`: the stricter view (what every run process pays).
Goal: routines <= 1.5x the bare project.

    python benchmarks/load_time.py [--runs 7]
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

BARE_PROJECT = """
import dagster as dg


@dg.asset
def one_asset() -> int:
    return 1


defs = dg.Definitions(assets=[one_asset])
"""

# `defs` is a Definitions object (the bare project) or a `@dg.definitions` function (routines) to call
PROBE = (
    "import importlib, sys; m = importlib.import_module(sys.argv[1]); "
    "d = m.defs() if callable(m.defs) else m.defs; d.get_repository_def()"
)


def timed(command: list[str], path: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command,
        check=True,
        env={**env, "PYTHONPATH": path},
        cwd=path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def compare(label: str, make_command, bare_path: str, repo_root: str, env: dict[str, str], runs: int) -> None:
    timed(make_command("bare_project"), bare_path, env)  # warm the file system cache for both
    timed(make_command("routines.definitions"), repo_root, env)
    bare, routines = [], []
    for _ in range(runs):
        bare.append(timed(make_command("bare_project"), bare_path, env))
        routines.append(timed(make_command("routines.definitions"), repo_root, env))
    bare_median, routines_median = statistics.median(bare), statistics.median(routines)
    print(f"{label}:")
    print(f"  bare one-asset project  median {bare_median * 1000:6.0f} ms")
    print(f"  routines code location  median {routines_median * 1000:6.0f} ms")
    print(f"  ratio routines / bare   {routines_median / bare_median:.2f}x (goal <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    repo_root = str(Path(__file__).resolve().parent.parent)
    dagster = str(Path(sys.executable).with_name("dagster"))
    print(f"machine: {os.cpu_count()} cores; {args.runs} alternating runs each, fresh process per run")
    with tempfile.TemporaryDirectory() as temp:
        Path(temp, "bare_project.py").write_text(BARE_PROJECT)
        Path(temp, "dagster_home").mkdir()
        env = {
            **os.environ,
            "ROUTINES_HOME": str(Path(temp, "home")),
            "DAGSTER_HOME": str(Path(temp, "dagster_home")),
        }
        compare(
            "dagster definitions validate",
            lambda module: [dagster, "definitions", "validate", "-m", module],
            temp,
            repo_root,
            env,
            args.runs,
        )
        compare(
            "import + repository",
            lambda module: [sys.executable, "-c", PROBE, module],
            temp,
            repo_root,
            env,
            args.runs,
        )


if __name__ == "__main__":
    main()
