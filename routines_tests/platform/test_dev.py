"""`make run`: the embedded setup is idempotent, and `dagster dev` comes up and stops cleanly on a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parents[2]


def table_counts(url: str) -> dict[str, int]:
    from routines.database.engine import get_engine
    from routines.database.models import metadata

    with get_engine(url).connect() as connection:
        return {
            name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in metadata.tables.items()
        }


def test_prepare_twice_adds_no_duplicate_demo_data(routines_home, monkeypatch):
    from routines import dev, settings

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    dagster_home = dev.prepare()
    url = settings.database_url()
    assert url.startswith("sqlite:///") and str(routines_home) in url
    first = table_counts(url)
    assert first["companies"] >= 1
    assert (dagster_home / "dagster.yaml").is_file()
    dev.prepare()
    assert table_counts(url) == first


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def ignore_sigint() -> None:
    """What a shell does to a command started in the background: SIGINT ignored."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_dagster_dev_starts_and_stops_cleanly(tmp_path, stop_signal):
    port = free_port()
    env = {
        **os.environ,
        "ROUTINES_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    env.pop("ROUTINES_DATABASE_URL", None)
    log = open(tmp_path / "dev.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "routines.dev", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=ignore_sigint,
    )
    pgid = process.pid
    try:
        deadline = time.monotonic() + 150
        while True:
            assert process.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            try:
                response = requests.post(
                    f"http://127.0.0.1:{port}/graphql",
                    json={
                        "query": "{ workspaceOrError { ... on Workspace { locationEntries { name "
                        "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
                    },
                    timeout=5,
                )
                entries = response.json()["data"]["workspaceOrError"]["locationEntries"]
                if entries and entries[0]["locationOrLoadError"]:
                    break
            except (requests.ConnectionError, requests.Timeout, KeyError, TypeError, ValueError):
                pass
            assert time.monotonic() < deadline, "dagster dev did not answer in time"
            time.sleep(1)
        assert entries[0]["name"] == "routines"
        location = entries[0]["locationOrLoadError"]
        assert location["__typename"] == "RepositoryLocation", location.get("message")

        # A signal to the process we started (the `make run` process, replaced by `dagster dev`).
        os.kill(process.pid, stop_signal)
        process.wait(timeout=60)
        deadline = time.monotonic() + 30
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not group_alive(pgid), "processes of dagster dev were left behind"
    finally:
        if group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
        log.close()
