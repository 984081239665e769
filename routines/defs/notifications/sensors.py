"""Run-status alerts, applied once to the whole code location: every failed run becomes notifications for the
owners of its failed assets (else the admins of the routine's company), once per run even when Dagster retries
it (keyed on the root run)."""

from __future__ import annotations

import os

import dagster as dg

from routines.lib.resources import DatabaseResource
from routines.lib.runs import asset_owners, failed_assets, run_failure_message

ROOT_RUN_TAG = "dagster/root_run_id"
WILL_RETRY_TAG = "dagster/will_retry"


@dg.run_failure_sensor(
    name="notify_failed_runs",
    description=(
        "Notifica (pt-BR) os responsáveis (owners) dos assets de cada execução que falhou neste code location; "
        "sem responsável, os administradores da empresa da rotina. Uma vez por execução, mesmo com retentativas."
    ),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def notify_failed_runs(context: dg.RunFailureSensorContext, database: DatabaseResource) -> None:
    from routines.notifications.service import COMPANY_TAG, NOTIFIES_ITSELF_TAG, FailedRun, record_failed_run

    run = context.dagster_run
    if run.tags.get(NOTIFIES_ITSELF_TAG) == "true":
        context.log.info(f"run {run.run_id}: its domain notifies the people concerned itself")
        return
    assets = failed_assets(context)
    base_url = os.environ.get("ROUTINES_DAGSTER_UI_URL", "").rstrip("/")
    failure = FailedRun(
        run_id=run.run_id,
        job_name=run.job_name,
        partition_key=run.tags.get("dagster/partition"),
        error=run_failure_message(context),
        link_url=f"{base_url}/runs/{run.run_id}" if base_url else None,
        assets=tuple(key.to_user_string() for key in assets)
        or tuple(event.step_key for event in context.get_step_failure_events() if event.step_key),
        root_run_id=run.tags.get(ROOT_RUN_TAG) or run.run_id,
        owners=asset_owners(context, assets),
        company_code=run.tags.get(COMPANY_TAG),
        will_retry=run.tags.get(WILL_RETRY_TAG) == "true",
    )
    with database.session() as session:
        notifications = record_failed_run(session, failure)
        for notification in notifications:
            context.log.info(
                f"notification {notification.id} (user {notification.user_id}): {notification.title}"
            )
