"""Run-status alerts, applied once to the whole code location: every failed run becomes a notification."""

from __future__ import annotations

import os

import dagster as dg

from routines.lib.resources import DatabaseResource


def _root_cause(error) -> str:
    """The user's own error, not Dagster's wrapper around it."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


@dg.run_failure_sensor(
    name="notify_failed_runs",
    description="Registra uma notificação (pt-BR) para cada execução que falhou neste code location.",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def notify_failed_runs(context: dg.RunFailureSensorContext, database: DatabaseResource) -> None:
    from routines.notifications.service import FailedRun, record_failed_run

    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    step_errors = [
        f"{event.step_key}: {_root_cause(event.step_failure_data.error)}"
        for event in step_failures
        if event.step_failure_data.error is not None
    ]
    error = "; ".join(step_errors) or context.failure_event.message or ""
    base_url = os.environ.get("ROUTINES_DAGSTER_UI_URL", "").rstrip("/")
    failure = FailedRun(
        run_id=run.run_id,
        job_name=run.job_name,
        partition_key=run.tags.get("dagster/partition"),
        error=error,
        link_url=f"{base_url}/runs/{run.run_id}" if base_url else None,
        assets=tuple(key.to_user_string() for key in run.asset_selection or ())
        or tuple(event.step_key for event in step_failures if event.step_key),
    )
    with database.session() as session:
        notification = record_failed_run(session, failure)
        context.log.info(f"notification {notification.id}: {notification.title}")
