"""Run-status alerts, applied once to the whole code location: every run that failed for good (after the
instance's run retries) becomes notifications for the owners of its failed assets (else the admins of the
routine's company) and an alert on the routine's alert routes (e-mail, Slack, Teams: `routines.alerts`). A run
Dagster will retry tells nobody: its retry does when it fails too (keyed on the root run, once per run chain)."""

from __future__ import annotations

import dagster as dg

from routines.lib.resources import DatabaseResource
from routines.lib.runs import asset_owners, dagster_will_retry, failed_assets, run_failure_message

ROOT_RUN_TAG = "dagster/root_run_id"


@dg.run_failure_sensor(
    name="notify_failed_runs",
    description=(
        "Notifica (pt-BR) e alerta os responsáveis (owners) dos assets de cada execução que falhou neste code "
        "location, depois da última retentativa; sem responsável, os administradores da empresa da rotina. Uma "
        "vez por execução."
    ),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def notify_failed_runs(context: dg.RunFailureSensorContext, database: DatabaseResource) -> None:
    from routines.alerts.messages import Alert
    from routines.defs.alerts.common import dispatch_alert, run_url, utc_now
    from routines.notifications.service import COMPANY_TAG, NOTIFIES_ITSELF_TAG, FailedRun, record_failed_run

    run = context.dagster_run
    if run.tags.get(NOTIFIES_ITSELF_TAG) == "true":
        context.log.info(f"run {run.run_id}: its domain notifies the people concerned itself")
        return
    if dagster_will_retry(context.instance, run):
        context.log.info(f"run {run.run_id} will be retried by Dagster: its retry alerts if it fails too")
        return
    assets = failed_assets(context)
    link = run_url(run.run_id)
    owners = asset_owners(context, assets)
    failure = FailedRun(
        run_id=run.run_id,
        job_name=run.job_name,
        partition_key=run.tags.get("dagster/partition"),
        error=run_failure_message(context),
        link_url=link,
        assets=tuple(key.to_user_string() for key in assets)
        or tuple(event.step_key for event in context.get_step_failure_events() if event.step_key),
        root_run_id=run.tags.get(ROOT_RUN_TAG) or run.run_id,
        owners=owners,
        company_code=run.tags.get(COMPANY_TAG),
    )
    with database.session() as session:
        notifications = record_failed_run(session, failure)
        for notification in notifications:
            context.log.info(
                f"notification {notification.id} (user {notification.user_id}): {notification.title}"
            )
    graph = context.repository_def.asset_graph if context.repository_def is not None else None
    groups = sorted({graph.get(k).group_name for k in assets if graph is not None and graph.has(k)} - {None})
    routine = ", ".join(failure.assets) if run.job_name.startswith("__") and failure.assets else run.job_name
    alert = Alert(
        kind="run_failed",
        routine=routine,
        partition=failure.partition_key,
        reason=f"a execução falhou depois das retentativas: {failure.error}",
        run_id=run.run_id,
        run_url=link,
        owners=owners,
        groups=tuple(groups),
        company_code=failure.company_code,
        at=utc_now(),
    )
    dispatch_alert(database, alert, alert.at, context.log, notify=False)
