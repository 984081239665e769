"""The monthly schedule (Nth ANBIMA business day) and the operator partitions sensor."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from sqlalchemy import select

from routines.database.engine import get_engine, session_scope
from routines.defs.invoices.assets import invoice_processes, invoice_processes_job
from routines.defs.invoices.schedules import build_invoice_processes_schedule, business_day_setting
from routines.defs.invoices.sensors import invoice_operator_partitions_sensor
from routines.invoices.models import Operator
from routines.lib.resources import DatabaseResource

SP = ZoneInfo("America/Sao_Paulo")


def evaluate(schedule, day):
    defs = dg.Definitions(
        assets=[invoice_processes],
        jobs=[invoice_processes_job],
        schedules=[schedule],
        resources={"database": DatabaseResource()},
    )
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(*day, 6, 0, tzinfo=SP),
            repository_def=defs.get_repository_def(),
        ) as context,
    ):
        result = schedule.evaluate_tick(context)
        return list(result.run_requests or []), result.skip_message


def test_first_business_day_creates_the_month(monkeypatch):
    monkeypatch.delenv("ROUTINES_INVOICES_BUSINESS_DAY", raising=False)
    schedule = build_invoice_processes_schedule()
    assert schedule.execution_timezone == "America/Sao_Paulo" and schedule.cron_schedule == "0 6 * * *"
    # 1 June 2025 is a Sunday: the 1st business day is Monday 2 June
    requests, skip = evaluate(schedule, (2025, 6, 1))
    assert requests == [] and "02/06/2025" in skip
    requests, _ = evaluate(schedule, (2025, 6, 2))
    assert [r.partition_key for r in requests] == ["2025-06-01"]
    # 1 January is a holiday: the 1st business day of 2026 is Friday 2 January
    assert evaluate(schedule, (2026, 1, 1))[0] == []
    assert [r.partition_key for r in evaluate(schedule, (2026, 1, 2))[0]] == ["2026-01-01"]


def test_nth_business_day_from_the_environment(monkeypatch):
    monkeypatch.setenv("ROUTINES_INVOICES_BUSINESS_DAY", "3")
    assert business_day_setting() == 3
    schedule = build_invoice_processes_schedule()
    # March 2025: Carnaval on 3-4 March; business days 5, 6, 7 -> the 3rd is Friday 7 March (Sat 1 not a bd)
    assert evaluate(schedule, (2025, 3, 6))[0] == []
    assert [r.partition_key for r in evaluate(schedule, (2025, 3, 7))[0]] == ["2025-03-01"]


@pytest.mark.parametrize("value", ["0", "primeiro", "40"])
def test_bad_business_day_setting_is_refused(monkeypatch, value):
    monkeypatch.setenv("ROUTINES_INVOICES_BUSINESS_DAY", value)
    with pytest.raises(ValueError, match="ROUTINES_INVOICES_BUSINESS_DAY"):
        business_day_setting()


def test_operator_partitions_follow_the_database(seeded_url):
    resources = {"database": DatabaseResource(url=seeded_url)}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("invoice_operators", ["VIVO", "EXTINTA"])
        result = invoice_operator_partitions_sensor(
            dg.build_sensor_context(instance=instance, resources=resources)
        )
        requests = {type(r).__name__: sorted(r.partition_keys) for r in result.dynamic_partitions_requests}
        assert requests == {
            "AddDynamicPartitionsRequest": ["CLARO", "TIM"],
            "DeleteDynamicPartitionsRequest": ["EXTINTA"],
        }
        instance.add_dynamic_partitions("invoice_operators", ["CLARO", "TIM"])
        instance.delete_dynamic_partition("invoice_operators", "EXTINTA")
        # nothing to do now
        result = invoice_operator_partitions_sensor(
            dg.build_sensor_context(instance=instance, resources=resources)
        )
        assert isinstance(result, dg.SkipReason)
        # an operator loses its RPA, another one is added
        with session_scope(get_engine(seeded_url)) as session:
            session.scalar(select(Operator).where(Operator.code == "TIM")).has_rpa = False
            session.add(Operator(code="NEXTEL", name="Nextel", has_rpa=True, rpa_endpoint_name="nextel"))
        result = invoice_operator_partitions_sensor(
            dg.build_sensor_context(instance=instance, resources=resources)
        )
        requests = {type(r).__name__: sorted(r.partition_keys) for r in result.dynamic_partitions_requests}
        assert requests == {
            "AddDynamicPartitionsRequest": ["NEXTEL"],
            "DeleteDynamicPartitionsRequest": ["TIM"],
        }


def test_downloads_sensor_adds_missing_operator_partitions_and_skips_old_months(seeded_url):
    from datetime import date

    from routines.defs.invoices.sensors import invoice_downloads_sensor
    from routines.invoices import service

    with session_scope(get_engine(seeded_url)) as session:
        service.create_month_processes(session, date(2024, 12, 1), "run:old")  # before the first partition
        service.create_month_processes(session, date(2025, 7, 1), "run:new")
    resources = {"database": DatabaseResource(url=seeded_url)}
    with dg.instance_for_test() as instance:
        result = invoice_downloads_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert sorted(str(r.partition_key) for r in result.run_requests) == [
        "2025-07-01|CLARO",
        "2025-07-01|TIM",
        "2025-07-01|VIVO",
    ]
    assert [sorted(r.partition_keys) for r in result.dynamic_partitions_requests] == [
        ["CLARO", "TIM", "VIVO"]
    ]
    with session_scope(get_engine(seeded_url)) as session:
        assert result.cursor == str(service.last_transition_id(session))
