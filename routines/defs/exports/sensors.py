"""Sensors of the exports domain (thin glue over `routines.exports.service`):

- `export_tasks_sensor`: pending tasks -> one run each (run key = task and attempt, Dagster run priority from
  the task's priority); cancelled tasks -> their queued or running Dagster runs are cancelled.
- `export_task_run_failures` / `export_task_run_cancellations`: a run that died or was cancelled in Dagster
  without settling its task (killed worker, run monitoring, the UI's Terminate) settles it.
"""

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg

from routines import settings
from routines.defs.exports.jobs import (
    PRIORITY_TAG,
    RUN_KEY_TAG,
    TASK_TAG,
    export_task_job,
    run_config_for_executor,
)
from routines.lib.resources import DatabaseResource
from routines.lib.runs import dagster_will_retry, run_failure_message

SENSOR_INTERVAL = int(os.environ.get("ROUTINES_EXPORTS_SENSOR_INTERVAL", "").strip() or 10)
CANCEL_GRACE = timedelta(minutes=2)  # a cancelled task's run may not exist yet right after it was requested


def cancel_runs(instance: dg.DagsterInstance, run_key: str | None, run_id: str | None) -> bool:
    """Cancel the task's runs that are not finished (queued: dropped from the queue; started: the run launcher
    terminates the worker). Returns whether a run was found."""
    runs = []
    if run_key:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}))
    if run_id and all(run.run_id != run_id for run in runs):
        run = instance.get_run_by_id(run_id)
        runs += [run] if run is not None else []
    for run in runs:
        if not run.is_finished and run.status != dg.DagsterRunStatus.CANCELING:
            instance.run_coordinator.cancel_run(run.run_id)
    return bool(runs)


def build_export_tasks_sensor(
    job,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    name: str = "export_tasks_sensor",
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """`clock` gives the tick's "now" (tests pass explicit times)."""

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=SENSOR_INTERVAL,
        default_status=default_status,
        description=(
            "Cada tick: tarefas pendentes (export_tasks) viram uma execução cada, na ordem de prioridade; "
            "tarefas canceladas têm sua execução cancelada no Dagster."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
        from sqlalchemy.exc import OperationalError, ProgrammingError

        from routines.database.engine import session_scope
        from routines.exports.config import ExportsConfig
        from routines.exports.service import request_pending, runs_cancelled, runs_to_cancel

        now = clock()
        config = ExportsConfig.from_env()
        engine = database.get_engine()
        try:
            with session_scope(engine) as session:
                cancels = runs_to_cancel(session)
        except (OperationalError, ProgrammingError) as exc:
            if "export_tasks" not in str(exc):
                raise
            return dg.SkipReason("export_tasks missing in the business database: run `routines db upgrade`")
        handled = []
        for item in cancels:
            found = cancel_runs(context.instance, item.run_key, item.run_id)
            if found or item.requested_at is None or item.requested_at < now - CANCEL_GRACE:
                handled.append(item.task_id)
                context.log.info(
                    f"tarefa {item.task_id} cancelada: execução {item.run_key} cancelada no Dagster"
                )
        with session_scope(engine) as session:
            runs_cancelled(session, handled)
            plans = request_pending(session, now, config)
        if not plans:
            return dg.SensorResult() if handled else dg.SkipReason("nenhuma tarefa pendente")
        context.log.info(f"{len(plans)} tarefa(s) pendente(s) -> execuções")
        run_config = run_config_for_executor(settings.executor())
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=plan.run_key,
                    run_config=run_config,
                    tags={
                        TASK_TAG: str(plan.task_id),
                        RUN_KEY_TAG: plan.run_key,
                        PRIORITY_TAG: str(plan.priority),
                    },
                )
                for plan in plans
            ]
        )

    return _sensor


export_tasks_sensor = build_export_tasks_sensor(export_task_job)


@dg.run_failure_sensor(
    name="export_task_run_failures",
    monitored_jobs=[export_task_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Uma execução de tarefa que falhou sem registrar a falha (processo morto, monitoramento) falha a tarefa.",
)
def export_task_run_failures(context: dg.RunFailureSensorContext, database: DatabaseResource) -> None:
    from routines.exports.service import run_ended

    run = context.dagster_run
    if dagster_will_retry(context.instance, run):
        context.log.info(
            f"run {run.run_id} will be retried: the new run takes task {run.tags.get(TASK_TAG)} over"
        )
        return
    if TASK_TAG not in run.tags:
        return
    if run_ended(
        database.get_engine(), int(run.tags[TASK_TAG]), run_id=run.run_id, run_key=run.tags.get(RUN_KEY_TAG),
        outcome="failed", error=run_failure_message(context),
    ):  # fmt: skip
        context.log.info(f"tarefa {run.tags[TASK_TAG]} marcada como falha (execução {run.run_id})")


@dg.run_status_sensor(
    name="export_task_run_cancellations",
    run_status=dg.DagsterRunStatus.CANCELED,
    monitored_jobs=[export_task_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Uma execução de tarefa cancelada no Dagster (não pelo usuário) cancela a tarefa.",
)
def export_task_run_cancellations(context: dg.RunStatusSensorContext, database: DatabaseResource) -> None:
    from routines.exports.service import run_ended

    run = context.dagster_run
    if TASK_TAG in run.tags and run_ended(
        database.get_engine(), int(run.tags[TASK_TAG]), run_id=run.run_id, run_key=run.tags.get(RUN_KEY_TAG),
        outcome="canceled",
    ):  # fmt: skip
        context.log.info(
            f"tarefa {run.tags[TASK_TAG]} cancelada (execução {run.run_id} cancelada no Dagster)"
        )
