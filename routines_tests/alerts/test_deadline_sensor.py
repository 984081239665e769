"""The deadline sensor in real ticks at explicit times across Carnival 2025 and a month-end: checks reported on
the asset (visible in the UI), no alert on closed days, one alert per miss on Slack, Teams and e-mail (real
loopback servers, bodies asserted), then "regularizado"; and the declarations of the code location."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
from sqlalchemy import select

from routines.alerts.deadlines import TIMEZONE
from routines.database.engine import get_engine, session_scope
from routines.defs.alerts.deadlines import build_deadline_sensor, deadline_checks
from routines.lib.partitions import business_day_partitions
from routines.lib.resources import DatabaseResource
from routines.notifications.models import Notification
from routines_tests.helpers import load_code_location

DAYS = business_day_partitions("B3", "2025-02-17", end_date="2025-04-10")


@dg.asset(
    partitions_def=DAYS,
    group_name="market",
    owners=["team:mercado"],
    metadata={"routines/deadline": {"calendar": "B3", "time": "20:00", "business_days_after": 0}},
)
def quotes() -> None:
    return None


class Clock:
    def __init__(self):
        self.now = None

    def __call__(self):
        return self.now


def tick(instance, defs, sensor, db_url, cursor):
    with dg.build_sensor_context(
        instance=instance,
        repository_def=defs.get_repository_def(),
        cursor=cursor,
        resources={"database": DatabaseResource(url=db_url)},
    ) as context:
        sensor(context)
        return context.cursor


def latest_check(instance):
    key = dg.AssetCheckKey(dg.AssetKey("quotes"), "deadline")
    (record,) = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    return record.event.dagster_event.event_specific_data


def materialize(instance, *days):
    for day in days:
        assert dg.materialize([quotes], instance=instance, partition_key=day).success


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TIMEZONE)


def test_deadlines_across_carnival_and_a_month_end(db_url, channels):
    clock = Clock()
    sensor = build_deadline_sensor(clock=clock)
    defs = dg.Definitions(
        assets=[quotes],
        sensors=[sensor],
        asset_checks=deadline_checks(dg.Definitions(assets=[quotes])),
    )
    # the check is on the asset, as the UI shows it
    assert (
        dg.AssetCheckKey(dg.AssetKey("quotes"), "deadline")
        in defs.get_repository_def().asset_graph.asset_check_keys
    )
    with dg.instance_for_test() as instance:
        materialize(instance, "2025-02-24", "2025-02-25", "2025-02-26", "2025-02-27", "2025-02-28")
        cursor = None
        for moment in ("2025-03-03T21:00", "2025-03-04T21:00"):  # Carnival: closed, nothing expected
            clock.now = at(moment)
            cursor = tick(instance, defs, sensor, db_url, cursor)
            assert latest_check(instance).passed
        assert channels.server.posts == [] and channels.smtp.messages == []

        clock.now = at("2025-03-05T19:30")  # Ash Wednesday before 20:00: a warning, no alert
        cursor = tick(instance, defs, sensor, db_url, cursor)
        check = latest_check(instance)
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert check.metadata["warning_partitions"].value == "2025-03-05"
        assert channels.server.posts == []

        clock.now = at("2025-03-05T20:30")
        cursor = tick(instance, defs, sensor, db_url, cursor)
        check = latest_check(instance)
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        assert check.metadata["missing_partitions"].value == "2025-03-05"
        assert "até 20:00 de D+0 dia útil (calendário B3)" in check.description
        clock.now = at("2025-03-05T20:40")  # next tick: the same miss is not alerted again
        cursor = tick(instance, defs, sensor, db_url, cursor)

        (slack,) = channels.slack_texts()
        assert slack.startswith("*[Prazo perdido] quotes (partição 2025-03-05)*")
        assert (
            "Rotina: quotes\nPartição: 2025-03-05\nMotivo: partição 2025-03-05 não materializada no prazo"
            in slack
        )
        (teams,) = channels.teams_texts()
        assert "[Prazo perdido] quotes (partição 2025-03-05)" in teams and "Partição: 2025-03-05" in teams
        (mail,) = channels.smtp.messages
        assert mail.rcpt_tos == ["operacao@example.com.br"]
        assert mail.message["Subject"] == "[Prazo perdido] quotes (partição 2025-03-05)"
        assert "venceu 05/03/2025 20:00" in mail.message.get_content()

        materialize(instance, "2025-03-05")  # loaded late: "regularizado"
        clock.now = at("2025-03-05T21:30")
        cursor = tick(instance, defs, sensor, db_url, cursor)
        assert latest_check(instance).passed
        assert len(channels.slack_texts()) == 2
        assert channels.slack_texts()[1].startswith("*[Regularizado] quotes (partição 2025-03-05)*")
        assert channels.smtp.messages[1].message["Subject"] == "[Regularizado] quotes (partição 2025-03-05)"

        # month-end: 31/03 due at 20:00 of 31/03
        materialize(instance, *[d for d in DAYS.get_partition_keys() if "2025-03-06" <= d <= "2025-03-28"])
        clock.now = at("2025-03-31T20:05")
        tick(instance, defs, sensor, db_url, cursor)
        assert latest_check(instance).metadata["missing_partitions"].value == "2025-03-31"
        assert channels.slack_texts()[2].startswith("*[Prazo perdido] quotes (partição 2025-03-31)*")
        assert len(channels.teams_texts()) == 3 and len(channels.smtp.messages) == 3

    with session_scope(get_engine(db_url)) as session:
        titles = [n.title for n in session.scalars(select(Notification).order_by(Notification.id))]
    assert titles == [
        "[Prazo perdido] quotes (partição 2025-03-05)",
        "[Regularizado] quotes (partição 2025-03-05)",
        "[Prazo perdido] quotes (partição 2025-03-31)",
    ]


def test_catch_up_runs_by_default_only_in_production(monkeypatch):
    from routines.defs.alerts.catch_up import catch_up_default_status

    assert catch_up_default_status() == dg.DefaultSensorStatus.STOPPED  # local: never downloads by itself
    monkeypatch.setenv("ROUTINES_ENV", "production")
    assert catch_up_default_status() == dg.DefaultSensorStatus.RUNNING
    monkeypatch.setenv("ROUTINES_CATCH_UP", "off")
    assert catch_up_default_status() == dg.DefaultSensorStatus.STOPPED


def test_the_code_location_declares_deadlines_and_catch_up():
    defs = load_code_location()
    graph = defs.get_repository_def().asset_graph
    with_checks = {key.asset_key.to_user_string() for key in graph.asset_check_keys if key.name == "deadline"}
    assert {"b3_quotes", "cvm_fund_quotas", "invoice_processes", "sat_uploads"} <= with_checks
    assert "catalog/ptax_usd_brl" in with_checks  # a catalog routine declaring `deadline:` in its YAML
    repository = defs.get_repository_def()
    assert repository.has_sensor_def("deadline_sensor") and repository.has_sensor_def("catch_up_sensor")
    assert repository.has_sensor_def("alert_events_sensor")
    catch_up = repository.get_sensor_def("catch_up_sensor")
    assert {job.name for job in catch_up.jobs} == {
        "catch_up_b3_quotes",
        "catch_up_cvm_fund_quotas",
        "catch_up_catalog_ptax_usd_brl",  # `catch_up:` in the catalog routine's YAML
    }
    assert set(repository.get_job("catch_up_b3_quotes").asset_layer.selected_asset_keys) == {
        dg.AssetKey("b3_cotahist_file"),
        dg.AssetKey("b3_quotes"),
    }
