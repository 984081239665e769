"""A job for the Celery test, on the code location's Celery executor (`routines.lib.executors`).

Each step records where and when it ran in its output metadata: process id, host name, start and end time.
`pooled_1..3` share the pool `celery_probe`; `meet_a` and `meet_b` are outside any pool and wait for each other
(a file barrier), which proves the worker does run steps side by side: only the pool keeps the pooled ones apart.
"""

import os
import socket
import time
from pathlib import Path

import dagster as dg

from routines.lib.executors import celery_step_executor

POOL = "celery_probe"
POOLED_STEPS = 3
STEP_SECONDS = 1.5
BARRIER_SECONDS = 120


def _output(value: int, started: float, **metadata) -> dg.Output:
    return dg.Output(
        value,
        metadata={
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "started": started,
            "ended": time.time(),
            **metadata,
        },
    )


def pooled_op(number: int) -> dg.OpDefinition:
    @dg.op(name=f"pooled_{number}", pool=POOL)
    def pooled(context: dg.OpExecutionContext) -> dg.Output:
        started = time.time()
        time.sleep(STEP_SECONDS)
        return _output(number, started)

    return pooled


def meeting_op(name: str, other: str) -> dg.OpDefinition:
    @dg.op(name=name, config_schema={"folder": str})
    def meet(context: dg.OpExecutionContext) -> dg.Output:
        started = time.time()
        folder = Path(context.op_config["folder"])
        (folder / name).touch()
        deadline = time.monotonic() + BARRIER_SECONDS
        while not (folder / other).exists():
            if time.monotonic() > deadline:
                raise dg.Failure(f"{other} never ran while {name} was running")
            time.sleep(0.05)
        return _output(0, started)

    return meet


@dg.job(executor_def=celery_step_executor())
def celery_probe_job():
    for number in range(1, POOLED_STEPS + 1):
        pooled_op(number)()
    meeting_op("meet_a", "meet_b")()
    meeting_op("meet_b", "meet_a")()
