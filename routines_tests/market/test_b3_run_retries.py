"""Run retries repeat only what is safe, proven on a real instance with a real `dagster-daemon`.

The instance files of the repository (`dagster.yaml`, the embedded one, and `deploy/dagster.yaml`, production, on
a PostgreSQL database of its own) are copied into a temporary DAGSTER_HOME; the daemon runs the code location
against a loopback "B3 site" that answers an HTML page instead of the COTAHIST file. A bad file fails the step at
once (`Failure(allow_retries=False)`): the instance's `run_retries` must not re-run it. Exactly one run, one
download and one notification (sensor `notify_failed_runs`) - before `retry_on_asset_or_op_failure: false`, three
of each.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import TickStatus
from sqlalchemy import func, select

from routines.database import migrate
from routines.database.engine import get_engine, session_scope
from routines.notifications.models import Notification
from routines_tests.helpers import REPO_ROOT, serve
from routines_tests.market.servers import FileServer
from routines_tests.platform.test_instance import production_dagster_home  # noqa: F401 - fixture

DAILY = "COTAHIST_D25062021.ZIP"
HTML = b"<!DOCTYPE html><html><body>Servico temporariamente indisponivel</body></html>"
BIN = Path(sys.executable).parent


def _sensor_ticks(instance: dg.DagsterInstance, name: str) -> list:
    from dagster._core.scheduler.instigation import InstigatorType

    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == name:
            return instance.get_ticks(state.instigator_origin_id, state.selector_id)
    return []


def _wait(condition, what: str, daemon: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert daemon.poll() is None, f"dagster-daemon exited: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {log.read_text()[-3000:]}"
        time.sleep(1)


@pytest.mark.parametrize(
    "instance_file",
    ["dagster.yaml", pytest.param("deploy/dagster.yaml", marks=pytest.mark.postgres)],
)
def test_a_bad_b3_file_gives_one_run_one_download_and_one_notification(
    instance_file, tmp_path, monkeypatch, request
):
    home = tmp_path / "dagster_home"
    if instance_file.startswith("deploy/"):  # storage in a PostgreSQL database of its own
        assert request.getfixturevalue("production_dagster_home")[0] == home
    else:
        home.mkdir()
        shutil.copy(REPO_ROOT / instance_file, home / "dagster.yaml")
    workspace = tmp_path / "workspace.yaml"
    shutil.copy(REPO_ROOT / "workspace.yaml", workspace)
    db_url = f"sqlite:///{tmp_path / 'business.db'}"
    migrate.upgrade(db_url)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ROUTINES_DATABASE_URL", db_url)
    monkeypatch.setenv("ROUTINES_FILE_STORE_ROOT", str(tmp_path / "store"))
    log = tmp_path / "daemon.log"
    with serve(FileServer, files={DAILY: (200, HTML, "text/html")}, requests=[]) as (base_url, server):
        monkeypatch.setenv("ROUTINES_B3_BASE_URL", base_url)
        env = dict(os.environ)
        with open(log, "wb") as output:
            daemon = subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
                cwd=tmp_path,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the code server and run workers end with it
            )
        try:
            with dg.DagsterInstance.from_config(str(home)) as instance:
                # The failure sensor only sees runs that fail after its first tick has set its cursor: a tick
                # is recorded when its evaluation starts, so wait for one that ended.
                _wait(
                    lambda: any(
                        tick.status != TickStatus.STARTED
                        for tick in _sensor_ticks(instance, "notify_failed_runs")
                    ),
                    "the first sensor tick to end",
                    daemon,
                    log,
                )
                subprocess.run(
                    [
                        str(BIN / "dagster"),
                        *("job", "launch", "-w", str(workspace), "-j", "b3_quotes_job"),
                        *("--tags", json.dumps({"dagster/partition": "2021-06-25"})),
                    ],
                    cwd=tmp_path,
                    env=env,
                    check=True,
                    capture_output=True,
                    timeout=300,
                )

                def settled() -> bool:  # every run finished and the retry daemon decided on the last one
                    runs = instance.get_runs()
                    return (
                        bool(runs)
                        and all(run.is_finished and "dagster/will_retry" in run.tags for run in runs)
                        and runs[0].tags["dagster/will_retry"] == "false"
                    )

                _wait(settled, "the run and the retry decision", daemon, log)
                engine = get_engine(db_url)

                def notified() -> bool:
                    with session_scope(engine) as session:
                        return session.scalar(select(func.count()).select_from(Notification)) > 0

                _wait(notified, "the failure notification", daemon, log)
                runs = instance.get_runs()
                assert [run.status for run in runs] == [dg.DagsterRunStatus.FAILURE]
                (run,) = runs
                failure = next(
                    event
                    for event in instance.all_logs(run.run_id)
                    if event.dagster_event and event.dagster_event.event_type_value == "STEP_FAILURE"
                )
                assert (
                    "got an HTML page instead of a COTAHIST file"
                    in failure.dagster_event.event_specific_data.error.message
                )
                assert server.requests == [("GET", f"/{DAILY}")]  # one download: no step retry either
                with session_scope(engine) as session:
                    notifications = session.scalars(select(Notification)).all()
                    assert [(n.run_id, n.job_name) for n in notifications] == [(run.run_id, "b3_quotes_job")]
                    assert "HTML page" in notifications[0].message
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(30)
