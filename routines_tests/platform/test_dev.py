"""Every way of starting the UI from the repository root serves the `routines` location and stops cleanly:
`make run` (also the business API and pages), `dg dev` and a bare `dagster dev` (no DAGSTER_HOME). The embedded setup of `make run` is idempotent.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION_QUERY = (
    "{ workspaceOrError { ... on Workspace { locationEntries { name "
    "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
)


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


def as_background_job() -> None:
    """What a shell does to a command started in the background: a session of its own, SIGINT ignored."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def as_terminal_command() -> None:
    """A command typed in a terminal: its own process group, default SIGINT and SIGTERM (whatever pytest's
    own parent ignores)."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def clean_env(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    """The test's environment without DAGSTER_HOME or business-database settings; `None` removes a variable."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}  # the per-user folder, if anything uses it
    for name in ("DAGSTER_HOME", "ROUTINES_DATABASE_URL", "ROUTINES_FILE_STORE_ROOT", "VIRTUAL_ENV"):
        env.pop(name, None)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def serve_then_stop(
    command: list[str],
    env: dict[str, str],
    log_path: Path,
    port: int,
    start: Callable[[], None],
    stop: Callable[[subprocess.Popen], None],
    while_serving: Callable[[], None] | None = None,
) -> str:
    """Start `command` from the repository root, wait until the webserver serves the `routines` location
    without a load error, stop it with `stop` and check that no process of its group is left. Returns the log."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=start
        )
    pgid = process.pid
    try:
        deadline = time.monotonic() + 240
        entries = None
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                response = requests.post(
                    f"http://127.0.0.1:{port}/graphql", json={"query": LOCATION_QUERY}, timeout=5
                )
                entries = response.json()["data"]["workspaceOrError"]["locationEntries"]
                if entries and entries[0]["locationOrLoadError"]:
                    break
            except (requests.ConnectionError, requests.Timeout, KeyError, TypeError, ValueError):
                pass
            assert time.monotonic() < deadline, f"no answer on port {port}:\n{log_path.read_text()[-3000:]}"
            time.sleep(1)
        assert [entry["name"] for entry in entries] == ["routines"]
        location = entries[0]["locationOrLoadError"]
        assert location["__typename"] == "RepositoryLocation", location.get("message")
        if while_serving is not None:
            while_serving()

        stop(process)
        process.wait(timeout=90)
        deadline = time.monotonic() + 30
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not group_alive(pgid), "processes were left behind"
    finally:
        if group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
    return log_path.read_text()


def temporary_homes() -> set[str]:
    return {path.name for path in REPO_ROOT.glob(".tmp_dagster_home_*")}


def serves_the_api(port: int) -> Callable[[], None]:
    """A check that the business API and pages answer on `port` (the second service of `make run`)."""

    def check() -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                schema = requests.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, f"the API does not answer on port {port}"
                time.sleep(0.5)
        assert schema.status_code == 200 and "/api/tasks/summary/" in schema.json()["paths"]
        assert requests.get(f"http://127.0.0.1:{port}/api/tasks/", timeout=5).status_code == 401
        page = requests.get(f"http://127.0.0.1:{port}/paginas/entrar", timeout=5)
        assert page.status_code == 200 and "Entrar" in page.text

    return check


def services_stopped(log: str) -> None:
    """Each service of `make run` runs in a process group of its own: none of them may be left."""
    import re

    groups = [int(pid) for pid in re.findall(r"^(?:dagster|api): pid (\d+):", log, re.MULTILINE)]
    assert len(groups) == 2, log[-3000:]
    deadline = time.monotonic() + 30
    while any(group_alive(g) for g in groups) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(group_alive(g) for g in groups), "a service of make run was left behind"


def test_make_run_serves_the_location_and_ctrl_c_stops_everything(tmp_path):
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    port, api_port = free_port(), free_port()
    venv = Path(sys.prefix)
    command = [
        "make",
        "--no-print-directory",
        "run",
        f"PORT={port}",
        f"API_PORT={api_port}",
        f"VENV={venv}",
        "-o",
        f"{venv}/.installed",
    ]
    env = clean_env(tmp_path, ROUTINES_HOME=str(tmp_path / "home"))
    env["DAGSTER_HOME"] = str(tmp_path / "dagster_home")
    log = serve_then_stop(
        command,
        env,
        tmp_path / "make.log",
        port,
        start=as_terminal_command,
        stop=lambda process: os.killpg(process.pid, signal.SIGINT),  # Ctrl-C: the terminal signals the group
        while_serving=serves_the_api(api_port),
    )
    services_stopped(log)
    assert "demo rows added" in log
    assert (tmp_path / "home" / "routines.db").is_file() and (
        tmp_path / "dagster_home" / "dagster.yaml"
    ).is_file()


def test_make_run_started_in_the_background_stops_on_sigterm(tmp_path):
    """`python -m routines.dev` (what `make run` executes) started by a script in the background, where SIGINT
    is ignored: a SIGTERM to that one process still stops the webserver, the daemon and the code server."""
    port, api_port = free_port(), free_port()
    env = clean_env(tmp_path, ROUTINES_HOME=str(tmp_path / "home"))
    env["DAGSTER_HOME"] = str(tmp_path / "dagster_home")
    log = serve_then_stop(
        [sys.executable, "-m", "routines.dev", "--port", str(port), "--api-port", str(api_port)],
        env,
        tmp_path / "dev.log",
        port,
        start=as_background_job,
        stop=lambda process: process.send_signal(signal.SIGTERM),
        while_serving=serves_the_api(api_port),
    )
    services_stopped(log)


def test_dg_dev_from_the_root_serves_the_location(tmp_path):
    port = free_port()
    before = temporary_homes()
    log = serve_then_stop(
        [str(BIN / "dg"), "dev", "--port", str(port)],
        clean_env(tmp_path, ROUTINES_HOME=str(tmp_path / "home")),
        tmp_path / "dg.log",
        port,
        start=as_terminal_command,
        stop=lambda process: process.send_signal(signal.SIGTERM),
    )
    assert "warning" not in log.split("Launching Dagster services")[0].lower(), log[:2000]
    assert temporary_homes() == before


def test_bare_dagster_dev_from_the_root_serves_the_location(tmp_path):
    """No DAGSTER_HOME, no ROUTINES_HOME: the root dagster.yaml is the embedded instance, kept in a temporary
    .tmp_dagster_home_* folder that is removed at exit."""
    port = free_port()
    before = temporary_homes()
    serve_then_stop(
        [str(BIN / "dagster"), "dev", "--port", str(port)],
        clean_env(tmp_path, ROUTINES_HOME=None),
        tmp_path / "dagster.log",
        port,
        start=as_terminal_command,
        stop=lambda process: process.send_signal(signal.SIGINT),
    )
    assert temporary_homes() == before
