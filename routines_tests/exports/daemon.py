"""A real Dagster deployment on this machine for the exports tests and benchmark: a DAGSTER_HOME holding the
repository's embedded `dagster.yaml` (SQLite storage, QueuedRunCoordinator, pools, run retries and monitoring)
and `dagster-daemon run -w workspace.yaml`, which starts the code server, evaluates the sensors, dequeues runs
and launches each in its own process (DefaultRunLauncher). Stopped by its process group, which it owns."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Deployment:
    home: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen

    def instance(self):
        import dagster as dg

        return dg.DagsterInstance.from_config(str(self.home))

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def wait_for(self, predicate: Callable[[], object], timeout: float, what: str, every: float = 0.2):
        """Poll until `predicate()` is truthy (returns it); on timeout fail with the daemon's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.process.poll() is not None:
                raise AssertionError(
                    f"dagster-daemon exited ({self.process.returncode}) waiting for {what}:\n{self.log_tail()}"
                )
            time.sleep(every)
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what}; daemon log:\n{self.log_tail()}"
        )


@contextmanager
def deployment(tmp_path: Path, db_url: str, file_store_root: Path, **extra_env: str) -> Iterator[Deployment]:
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ROUTINES_DATABASE_URL": db_url,
        "ROUTINES_FILE_STORE_ROOT": str(file_store_root),
        "ROUTINES_HOME": str(tmp_path / "routines_home"),
        "ROUTINES_EXPORTS_SENSOR_INTERVAL": "1",
        **extra_env,
    }
    log = tmp_path / "daemon.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster-daemon")),
                "run",
                "-w",
                str(REPO_ROOT / "workspace.yaml"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: code server and run workers included
        )
    try:
        yield Deployment(home, env, log, process)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        pass
    try:  # whatever is left of the group (run workers, code server)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)
