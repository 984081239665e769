"""Where the steps of a run execute (ROUTINES_EXECUTOR).

- `multiprocess` (default): Dagster's own executor, one process per step on the host that runs the run.
- `celery`: every step is a Celery task, executed by `dagster-celery` workers on any number of hosts. The broker
  (Redis or RabbitMQ) and the result backend come from ROUTINES_CELERY_BROKER and ROUTINES_CELERY_BACKEND,
  read by Dagster when a run starts (never written into the run config); the workers listen on the queue
  ROUTINES_CELERY_QUEUE (default `routines`). Op concurrency pools still apply: the run claims a pool slot
  before it hands a step to Celery and gives it back when the step ends.

The workers are started with the same settings (deploy/celery.yaml); see the README, "Scaling out".
"""

from __future__ import annotations

import dagster as dg

from routines import settings

EXECUTORS = ("multiprocess", "celery")


def celery_step_executor() -> dg.ExecutorDefinition:
    """The dagster-celery executor, configured from the environment (imports Celery only when chosen)."""
    from dagster_celery import celery_executor

    return celery_executor.configured(
        {
            "broker": {"env": "ROUTINES_CELERY_BROKER"},
            "backend": {"env": "ROUTINES_CELERY_BACKEND"},
            "config_source": {"task_default_queue": settings.celery_queue()},
        },
        name="celery",
    )


def step_executor(kind: str) -> dg.ExecutorDefinition | None:
    """The executor for ROUTINES_EXECUTOR=`kind`; None keeps Dagster's default (multiprocess)."""
    if kind == "multiprocess":
        return None
    if kind == "celery":
        return celery_step_executor()
    raise ValueError(f"ROUTINES_EXECUTOR={kind!r}: expected one of {', '.join(EXECUTORS)}")
