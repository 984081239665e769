"""`make run`: migrate and seed the embedded business database, prepare a local DAGSTER_HOME, then run two
services until stopped: `dg dev` (the Dagster UI, daemon and code server) and the business API and pages
(`routines api`, uvicorn).

This process stays as their supervisor. Each service runs in a process group of its own, started with SIGINT and
SIGTERM at their defaults (a `dagster dev` that inherits an ignored SIGINT - a script started in the background -
also ignores SIGTERM and cannot be stopped cleanly). Ctrl-C or SIGTERM to the supervisor sends one SIGTERM to
each service's group and waits for both (SIGKILL after a grace period); when one service exits by itself, the
other is stopped too. Installed without the repository (no pyproject.toml with `[tool.dg]`), it starts
`dagster dev -m routines.definitions` instead of `dg dev`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from routines import settings

REPOSITORY = Path(__file__).resolve().parent.parent
EMBEDDED_INSTANCE = REPOSITORY / "dagster.yaml"


def prepare(url: str | None = None) -> Path:
    """Upgrade and seed the business database; create DAGSTER_HOME with the local instance settings."""
    from routines.database import migrate
    from routines.database.engine import describe_url
    from routines.demo import seed_demo

    migrate.upgrade(url)
    added = seed_demo(url)
    print(
        f"business database {describe_url(url or settings.database_url())}: migrated; demo rows added {added}"
    )
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or settings.routines_home() / "dagster_home").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    # The repository's embedded instance settings, refreshed on every start so that an edit takes effect.
    shutil.copyfile(EMBEDDED_INSTANCE, dagster_home / "dagster.yaml")
    return dagster_home


STOP_GRACE_SECONDS = 60


class Supervisor:
    """Two services, each in a process group of its own; stopped together."""

    def __init__(self, commands: dict[str, list[str]]):
        self.commands = commands
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopping = False
        self.signalled = False

    def start(self) -> None:
        for name, command in self.commands.items():
            self.processes[name] = subprocess.Popen(command, process_group=0)
            print(f"{name}: pid {self.processes[name].pid}: {' '.join(command)}", flush=True)

    def stop(self, *received) -> None:
        self.signalled = self.signalled or bool(received)
        if self.stopping:
            return
        self.stopping = True
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def _kill_groups(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

    def run(self) -> int:
        """Start both, wait until both ended (the first to end stops the other); returns the first exit status."""
        # Python-level handlers: the services start with SIGINT and SIGTERM at their defaults (exec resets them).
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)
        self.start()
        first, deadline = None, None
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None and first is None:
                    first = process.returncode
                    if not self.stopping:
                        print(f"{name} exited with status {first}: stopping the other service", flush=True)
                        self.stop()
            if self.stopping and deadline is None:
                deadline = time.monotonic() + STOP_GRACE_SECONDS
            if all(process.poll() is not None for process in self.processes.values()):
                break
            if deadline is not None and time.monotonic() > deadline:
                self._kill_groups()
            time.sleep(0.2)
        self._kill_groups()  # nothing of theirs outlives them
        return 0 if self.signalled else (first or 0)  # stopped by Ctrl-C/SIGTERM: a normal end


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m routines.dev", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="3000", help="port of the Dagster UI")
    parser.add_argument("--api-port", default="8000", help="port of the business API and pages")
    args = parser.parse_args(argv)
    dagster_home = prepare()
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    binaries = Path(sys.executable).parent
    if (REPOSITORY / "pyproject.toml").is_file():  # the dg project: `dg dev` from its root
        os.chdir(REPOSITORY)
        command = [str(binaries / "dg"), "dev", "--host", args.host, "--port", str(args.port)]
    else:
        command = [str(binaries / "dagster"), "dev", "-h", args.host, "-p", str(args.port)]
        command += ["-m", "routines.definitions"]
    api = [sys.executable, "-m", "routines.cli", "api", "--host", args.host, "--port", str(args.api_port)]
    print(
        f"DAGSTER_HOME={dagster_home}; Dagster UI on http://{args.host}:{args.port}, "
        f"API and pages on http://{args.host}:{args.api_port}/ (Ctrl-C stops both)",
        flush=True,
    )
    sys.exit(Supervisor({"dagster": command, "api": api}).run())


if __name__ == "__main__":
    main()
