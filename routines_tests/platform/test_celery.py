"""Beyond one machine: a real `dagster-celery` worker process on Redis runs the steps of a run.

The worker listens on a queue of its own (other developers share the same Redis), sees the same Dagster instance
(SQLite in a temporary DAGSTER_HOME with the repository's dagster.yaml), and is always stopped, with its whole
process group, at the end. With CI=true an unreachable Redis fails the test instead of skipping it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from routines_tests.helpers import REPO_ROOT
from routines_tests.platform import celery_probe

REDIS_URL = os.environ.get("ROUTINES_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BIN = Path(sys.executable).parent


def require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        message = f"Redis at {REDIS_URL} is unreachable ({type(exc).__name__}: {exc})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: Redis is required)", pytrace=False)
        pytest.skip(message)


def process_group(pgid: int) -> set[int]:
    """Every live process of the group (the worker and its pool processes)."""
    members = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    members.add(int(entry.name))
            except ProcessLookupError:
                continue
    return members


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the worker's process group (Celery's warm shutdown), SIGKILL whatever is left."""
    for stop_signal, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, stop_signal)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while process_group(process.pid) and time.monotonic() < deadline:
            process.poll()
            time.sleep(0.2)
    process.wait(10)


def forget_test_keys(queue: str, worker_log: Path) -> None:
    """Remove what this test left in the shared Redis: its queue, the bindings named after it and the results
    of its tasks (their ids are in the worker's log); nothing of anybody else's."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"*{queue}*", count=1000))
    task_ids = re.findall(
        r"Task execute_plan\[([0-9a-f-]{36})\] received", worker_log.read_text(errors="replace")
    )
    keys += [f"celery-task-meta-{task_id}" for task_id in task_ids]
    if keys:
        client.delete(*keys)


def wait_until_ready(worker: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 180
    while " ready." not in log.read_text(errors="replace"):
        assert worker.poll() is None, f"the Celery worker exited:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"the Celery worker did not start:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)


def step_outputs(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict]:
    outputs = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_OUTPUT):
        metadata = entry.dagster_event.step_output_data.metadata
        outputs[entry.step_key] = {key: value.value for key, value in metadata.items()}
    return outputs


def test_a_celery_worker_runs_the_steps_and_the_pool_still_bounds_them(tmp_path):
    require_redis()
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")  # the embedded instance
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.event_log_storage.set_concurrency_slots(celery_probe.POOL, 1)

    run_id = str(uuid.uuid4())
    queue = f"routines-test-{run_id[:12]}"
    worker_name = f"{queue}@{socket.gethostname()}"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "ROUTINES_CELERY_BROKER": REDIS_URL,
        "ROUTINES_CELERY_BACKEND": REDIS_URL,
        "ROUTINES_CELERY_QUEUE": queue,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # `celery` of this virtualenv
    }
    log = tmp_path / "worker.log"
    with open(log, "w") as output:
        worker = subprocess.Popen(
            [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app"]
            + ["-y", str(REPO_ROOT / "deploy" / "celery.yaml"), "-q", queue, "-n", queue, "-l", "INFO"]
            + ["--", "--concurrency=3", "--without-mingle", "--without-gossip"],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_ready(worker, log)
        worker_pids = process_group(worker.pid)

        (tmp_path / "barrier").mkdir()
        meet = {"config": {"folder": str(tmp_path / "barrier")}}
        (tmp_path / "run.yaml").write_text(
            json.dumps({"ops": {"meet_a": meet, "meet_b": meet}})  # JSON is YAML
        )
        launched = subprocess.run(
            [str(BIN / "dagster"), "job", "execute", "-f", celery_probe.__file__, "-j", "celery_probe_job"]
            + ["-c", str(tmp_path / "run.yaml")],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        worker_pids |= process_group(worker.pid)
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            (run,) = instance.get_runs()
            details = launched.stdout[-3000:] + launched.stderr[-3000:] + log.read_text()[-3000:]
            assert run.status == dg.DagsterRunStatus.SUCCESS, details
            assert launched.returncode == 0, details
            outputs = step_outputs(instance, run.run_id)
            celery_nodes = {
                entry.step_key: entry.dagster_event.engine_event_data.metadata["Celery worker"].value
                for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
                if entry.step_key and "in celery worker" in (entry.message or "")
            }
            slots = instance.event_log_storage.get_concurrency_info(celery_probe.POOL)

        steps = {f"pooled_{n}" for n in range(1, celery_probe.POOLED_STEPS + 1)} | {"meet_a", "meet_b"}
        assert set(outputs) == steps
        # every step ran in a process of the worker we started, on this host, announced by its node name
        assert {step: output["pid"] in worker_pids for step, output in outputs.items()} == dict.fromkeys(
            steps, True
        ), (outputs, worker_pids)
        assert {output["hostname"] for output in outputs.values()} == {socket.gethostname()}
        assert celery_nodes == dict.fromkeys(steps, worker_name)
        # the worker runs steps side by side (the barrier steps met) ...
        meetings = sorted((outputs[step]["started"], outputs[step]["ended"]) for step in ("meet_a", "meet_b"))
        assert meetings[0][1] > meetings[1][0]
        # ... yet the pool of limit 1 kept the pooled steps apart, and every slot was given back
        pooled = sorted(
            (outputs[f"pooled_{n}"]["started"], outputs[f"pooled_{n}"]["ended"]) for n in (1, 2, 3)
        )
        for (_, first_end), (second_start, _) in itertools.pairwise(pooled):
            assert first_end <= second_start, pooled
        assert slots.slot_count == 1 and slots.active_slot_count == 0
    finally:
        stop_group(worker)
        forget_test_keys(queue, log)
    assert not process_group(worker.pid), "processes of the Celery worker were left behind"
