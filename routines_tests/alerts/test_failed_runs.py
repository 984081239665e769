"""A run that fails is alerted once, after its last retry: a real Dagster instance with run retries decides
(`dagster/will_retry`), the run-failure sensor `notify_failed_runs` skips the run it will retry and alerts the
retry that failed for good on Slack, Teams and e-mail (loopback servers, bodies asserted), with its notification
row."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import select

from routines.alerts.models import SentAlert
from routines.database.engine import get_engine, session_scope
from routines.defs.notifications.sensors import notify_failed_runs
from routines.lib.resources import DatabaseResource
from routines.notifications.models import Notification

DAY = dg.StaticPartitionsDefinition(["2025-03-05"])


@dg.asset(partitions_def=DAY, group_name="market", owners=["team:mercado"])
def flaky_quotes() -> None:
    raise RuntimeError("B3 fora do ar")


def flaky_job() -> dg.JobDefinition:
    job = dg.define_asset_job("flaky_job", [flaky_quotes])
    return dg.Definitions(assets=[flaky_quotes], jobs=[job]).resolve_job_def("flaky_job")


def run_of(instance, retry_of: str | None = None) -> dg.DagsterRun:
    """A run of the job (in its own process); `retry_of`: Dagster's re-execution of that run from its failure,
    what the daemon's run retries launch (same run group)."""
    options = dg.ReexecutionOptions.from_failure(retry_of, instance) if retry_of else None
    with dg.execute_job(
        dg.reconstructable(flaky_job),
        instance,
        tags={"dagster/partition": "2025-03-05"}
        | ({"dagster/parent_run_id": retry_of, "dagster/root_run_id": retry_of} if retry_of else {}),
        reexecution_options=options,
        raise_on_error=False,
    ) as result:
        assert not result.success
        return instance.get_run_by_id(result.run_id)


def failure_tick(instance, run, db_url, repository):
    event = next(
        e.dagster_event
        for e in instance.all_logs(run.run_id)
        if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
    )
    context = dg.build_run_status_sensor_context(
        sensor_name="notify_failed_runs",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run.run_id),
        resources={"database": DatabaseResource(url=db_url)},
        repository_def=repository,
    ).for_run_failure()
    notify_failed_runs(context)


def test_one_alert_per_failed_run_after_its_retries(db_url, channels):
    repository = dg.Definitions(assets=[flaky_quotes]).get_repository_def()
    retries = {"run_retries": {"enabled": True, "max_retries": 1}}
    with dg.instance_for_test(overrides=retries) as instance:
        first = run_of(instance)
        assert first.tags.get("dagster/will_retry") == "true"  # Dagster's own decision
        failure_tick(instance, first, db_url, repository)
        assert channels.server.posts == [] and channels.smtp.messages == []  # it will be retried: nobody told

        # the retry the daemon launches: same run group, fails again, no retry left
        retry = run_of(instance, retry_of=first.run_id)
        assert retry.root_run_id == first.run_id
        assert retry.tags.get("dagster/will_retry") == "false"
        failure_tick(instance, retry, db_url, repository)
        failure_tick(instance, retry, db_url, repository)  # the same run delivered twice: still one alert

    link = f"http://dagster.example:3000/runs/{retry.run_id}"
    (slack,) = channels.slack_texts()
    assert slack.startswith("*[Falha na execução] flaky_job (partição 2025-03-05)*")
    assert (
        "Motivo: a execução falhou depois das retentativas: flaky_quotes: RuntimeError: B3 fora do ar"
        in slack
    )
    assert f"Execução no Dagster: {link}" in slack
    (teams,) = channels.teams_texts()
    assert "B3 fora do ar" in teams and link in teams
    (mail,) = channels.smtp.messages
    assert mail.message["Subject"] == "[Falha na execução] flaky_job (partição 2025-03-05)"
    assert link in mail.message.get_content()
    with session_scope(get_engine(db_url)) as session:
        notifications = list(session.scalars(select(Notification)))
        assert [(n.run_id, n.link_url) for n in notifications] == [(retry.run_id, link)]
        sent = sorted(s.route for s in session.scalars(select(SentAlert)))
        assert sent == ["default-email", "default-slack", "default-teams"]
