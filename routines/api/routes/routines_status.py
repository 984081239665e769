"""`GET /api/routines/status/`: each routine (Dagster job) with its last run, its schedules' next times and
whether its current partition is done, read from the Dagster instance (Python API) of DAGSTER_HOME."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from routines.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from routines.api.security import current_user
from routines.api.tokens import Principal

router = APIRouter(prefix="/api/routines", tags=["rotinas"], responses=ERROR_RESPONSES)
_lock = threading.Lock()


class ScheduleOut(BaseModel):
    name: str
    cron: str
    timezone: str
    running: bool
    next_run_at: datetime | None


class RoutineOut(BaseModel):
    job: str
    description: str | None
    last_run_id: str | None
    last_run_status: str | None
    last_run_started_at: datetime | None
    last_run_ended_at: datetime | None
    schedules: list[ScheduleOut]
    next_run_at: datetime | None
    partition: str | None
    partition_done: bool | None


class StatusOut(BaseModel):
    dagster_home: str
    generated_at: datetime
    routines: list[RoutineOut]


@lru_cache(maxsize=1)
def repository():
    """The code location's repository (loaded once per process: a few seconds)."""
    from routines.definitions import defs

    return defs().get_repository_def()


def _home() -> str:
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if not home:
        raise ApiError(
            503, "DAGSTER_HOME não está definido: a situação das rotinas vem da instância do Dagster"
        )
    if not os.path.isdir(home):
        raise ApiError(503, f"DAGSTER_HOME={home}: a pasta não existe")
    return home


def next_cron_time(cron: str | Sequence[str], timezone: str, now: datetime) -> datetime:
    """The next time a cron expression (or the earliest of several) fires after `now`, in `timezone`."""
    from croniter import croniter

    local = now.astimezone(ZoneInfo(timezone))
    crons = [cron] if isinstance(cron, str) else list(cron)
    return min(croniter(c, local).get_next(datetime) for c in crons)


def routines_status(instance, repo, now: datetime) -> list[RoutineOut]:
    import dagster as dg
    from dagster import RunsFilter
    from dagster._core.scheduler.instigation import InstigatorStatus

    states = {state.instigator_name: state for state in instance.all_instigator_state()}
    routines = []
    for job in sorted(repo.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        runs = instance.get_runs(filters=RunsFilter(job_name=job.name), limit=1)
        last = runs[0] if runs else None
        record = instance.get_run_record_by_id(last.run_id) if last else None
        schedules = []
        for schedule in repo.schedule_defs:
            if schedule.job_name != job.name:
                continue
            state = states.get(schedule.name)
            running = (
                state.status == InstigatorStatus.RUNNING
                if state is not None and state.status != InstigatorStatus.DECLARED_IN_CODE
                else schedule.default_status == dg.DefaultScheduleStatus.RUNNING
            )
            next_time = next_cron_time(schedule.cron_schedule, schedule.execution_timezone or "UTC", now)
            schedules.append(
                ScheduleOut(
                    name=schedule.name,
                    cron=" | ".join(
                        [schedule.cron_schedule]
                        if isinstance(schedule.cron_schedule, str)
                        else schedule.cron_schedule
                    ),
                    timezone=schedule.execution_timezone or "UTC",
                    running=running,
                    next_run_at=next_time,
                )  # fmt: skip
            )
        partition, done = None, None
        partitions = job.partitions_def
        if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
            from dagster._core.definitions.partitions.context import partition_loading_context

            with partition_loading_context(effective_dt=now, dynamic_partitions_store=instance):
                partition = partitions.get_last_partition_key()
            if partition is not None:
                succeeded = instance.get_runs(
                    filters=RunsFilter(
                        job_name=job.name,
                        tags={"dagster/partition": partition},
                        statuses=[dg.DagsterRunStatus.SUCCESS],
                    ),  # fmt: skip
                    limit=1,
                )
                done = bool(succeeded)
        upcoming = [s.next_run_at for s in schedules if s.running and s.next_run_at]
        routines.append(
            RoutineOut(
                job=job.name,
                description=job.description,
                last_run_id=last.run_id if last else None,
                last_run_status=last.status.value if last else None,
                last_run_started_at=record.start_time
                and datetime.fromtimestamp(record.start_time).astimezone()
                if record
                else None,
                last_run_ended_at=record.end_time and datetime.fromtimestamp(record.end_time).astimezone()
                if record
                else None,
                schedules=schedules,
                next_run_at=min(upcoming) if upcoming else None,
                partition=partition,
                partition_done=done,
            )  # fmt: skip
        )
    return routines


@router.get(
    "/status/",
    response_model=StatusOut,
    responses={503: {"model": ErrorBody, "description": "Instância do Dagster indisponível (DAGSTER_HOME)"}},
    summary="Situação de cada rotina (instância do Dagster)",
)
def status(_user: Principal = Depends(current_user)):
    from datetime import UTC

    from dagster import DagsterInstance

    home = _home()
    with _lock:
        repo = repository()
    now = datetime.now(UTC)
    with DagsterInstance.get() as instance:
        return StatusOut(dagster_home=home, generated_at=now, routines=routines_status(instance, repo, now))
