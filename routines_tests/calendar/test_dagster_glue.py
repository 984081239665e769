"""Dagster glue: business-day partitions, schedules (daily, D+N, monthly), the resource and the definitions."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from routines.calendar import get_calendar
from routines.lib.partitions import TIMEZONE, WEEKEND_CRON, business_day_partitions
from routines.lib.resources import BusinessCalendarResource
from routines.lib.schedules import business_day_schedule, monthly_business_day_schedule
from routines_tests.helpers import load_code_location

SP = ZoneInfo(TIMEZONE)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def test_november_2024_anbima_partitions_are_its_19_business_days():
    partitions = business_day_partitions("ANBIMA", "2024-01-01", end_date="2025-01-01")
    november = [k for k in partitions.get_partition_keys() if k.startswith("2024-11")]
    assert november == [d.isoformat() for d in get_calendar("ANBIMA").business_days_of_month(2024, 11)]
    assert len(november) == 19
    assert "2024-11-15" not in november and "2024-11-20" not in november and "2024-11-02" not in november
    assert partitions.timezone == TIMEZONE


def test_partition_keys_are_exactly_the_business_days_over_years():
    b3 = get_calendar("B3")
    partitions = business_day_partitions("B3", "2010-01-04", end_date="2026-01-01")
    keys = partitions.get_partition_keys()
    assert keys == [d.isoformat() for d in b3.business_days(date(2010, 1, 4), date(2025, 12, 31))]
    assert not partitions.has_partition_key("2025-03-03")  # Carnival
    assert partitions.has_partition_key("2025-03-05")  # Ash Wednesday: a session


def test_exclusions_are_weekend_cron_and_midnight_sao_paulo_partition_starts():
    partitions = business_day_partitions("ANBIMA", "2024-01-01", horizon=date(2025, 12, 31))
    crons = [e for e in partitions.exclusions if isinstance(e, str)]
    stamps = [e for e in partitions.exclusions if not isinstance(e, str)]
    assert crons == [WEEKEND_CRON]
    holidays_on_weekdays = [
        d for y in (2024, 2025) for d, _ in get_calendar("ANBIMA").holidays(y) if d.weekday() < 5
    ]
    assert len(stamps) == len(holidays_on_weekdays)
    carnival = datetime(2025, 3, 3, tzinfo=SP)
    assert any(s.timestamp == carnival.timestamp() for s in stamps)
    # an excluded datetime is exactly a partition start (the day's window starts at 00:00 in São Paulo)
    window = partitions.time_window_for_partition_key("2025-03-05")
    assert window.start == datetime(2025, 3, 5, tzinfo=SP)


def test_default_horizon_reaches_end_of_next_year():
    partitions = business_day_partitions("ANBIMA", "2025-01-01")
    latest = max(e.timestamp for e in partitions.exclusions if not isinstance(e, str))
    assert datetime.fromtimestamp(latest, SP).year == datetime.now(SP).year + 1


def test_company_calendar_open_saturday_gets_a_partition(tmp_path):
    folder = tmp_path / "calendars"
    folder.mkdir()
    (folder / "PLANT.toml").write_text(
        'base = "ANBIMA"\n[open]\n2025-03-08 = "Mutirão de sábado"\n[closed]\n2025-03-07 = "Dedetização"\n',
        encoding="utf-8",
    )
    partitions = business_day_partitions("PLANT", "2025-03-01", end_date="2025-03-15")
    assert partitions.get_partition_keys() == [
        "2025-03-05",
        "2025-03-06",
        "2025-03-08",
        "2025-03-10",
        "2025-03-11",
        "2025-03-12",
        "2025-03-13",
        "2025-03-14",
    ]


PARTITIONS_2025 = business_day_partitions(
    "ANBIMA", "2025-01-01", end_date="2026-01-01", include_current_day=True
)
PARTITIONS_PAST_DAYS = business_day_partitions("ANBIMA", "2025-01-01")


@dg.asset(partitions_def=PARTITIONS_2025)
def daily_prices(context: dg.AssetExecutionContext, anbima_calendar: BusinessCalendarResource) -> str:
    day = date.fromisoformat(context.partition_key)
    assert anbima_calendar.calendar.is_business_day(day)
    return context.partition_key


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def tick(instance):
    repositories = {}

    def evaluate(
        schedule: dg.ScheduleDefinition, day: date, hour: int = 19, defs: dg.Definitions | None = None
    ):
        when = datetime(day.year, day.month, day.day, hour, 0, tzinfo=SP)
        if schedule.name not in repositories:
            defs = defs or dg.Definitions(
                assets=[daily_prices],
                schedules=[schedule],
                resources={"anbima_calendar": BusinessCalendarResource(name="ANBIMA")},
            )
            repositories[schedule.name] = defs.get_repository_def()
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, repository_def=repositories[schedule.name]
        )
        return schedule.evaluate_tick(context)

    return evaluate


def test_schedule_through_carnival_2025_skips_with_the_holiday_name(tick, instance):
    schedule = business_day_schedule(
        name="daily_prices_schedule",
        target=dg.AssetSelection.assets(daily_prices),
        calendar_name="ANBIMA",
        hour=19,
        partitions_def=PARTITIONS_2025,
    )
    defs = dg.Definitions(
        assets=[daily_prices],
        schedules=[schedule],
        resources={"anbima_calendar": BusinessCalendarResource(name="ANBIMA")},
    )
    assert schedule.execution_timezone == TIMEZONE
    outcome = {}
    for day in days(date(2025, 2, 27), date(2025, 3, 7)):
        data = tick(schedule, day, defs=defs)
        if data.run_requests:
            assert len(data.run_requests) == 1
            outcome[day] = data.run_requests[0].partition_key
        else:
            outcome[day] = data.skip_message
    assert outcome[date(2025, 2, 27)] == "2025-02-27"
    assert outcome[date(2025, 2, 28)] == "2025-02-28"
    assert "sábado" in outcome[date(2025, 3, 1)] and "domingo" in outcome[date(2025, 3, 2)]
    assert outcome[date(2025, 3, 3)] == "03/03/2025 não é dia útil no calendário ANBIMA: Carnaval"
    assert outcome[date(2025, 3, 4)] == "04/03/2025 não é dia útil no calendário ANBIMA: Carnaval"
    assert outcome[date(2025, 3, 5)] == "2025-03-05"
    assert outcome[date(2025, 3, 6)] == "2025-03-06"
    assert outcome[date(2025, 3, 7)] == "2025-03-07"
    # the requested partitions really run
    result = dg.materialize(
        [daily_prices],
        partition_key=outcome[date(2025, 3, 5)],
        resources={"anbima_calendar": BusinessCalendarResource(name="ANBIMA")},
        instance=instance,
    )
    assert result.success
    assert result.output_for_node("daily_prices") == "2025-03-05"


def test_d_plus_one_schedule_requests_the_previous_business_day(tick):
    schedule = business_day_schedule(
        name="late_prices",
        target=dg.AssetSelection.assets(daily_prices),
        calendar_name="ANBIMA",
        hour=8,
        minute=30,
        business_days_late=1,
        partitions_def=PARTITIONS_PAST_DAYS,
    )
    assert schedule.cron_schedule == "30 8 * * *"
    requested = {}
    for day in days(date(2025, 2, 27), date(2025, 3, 7)):
        data = tick(schedule, day, hour=8)
        requested[day] = data.run_requests[0].partition_key if data.run_requests else None
    assert requested == {
        date(2025, 2, 27): "2025-02-26",
        date(2025, 2, 28): "2025-02-27",
        date(2025, 3, 1): None,
        date(2025, 3, 2): None,
        date(2025, 3, 3): None,
        date(2025, 3, 4): None,
        date(2025, 3, 5): "2025-02-28",  # D+1 of Friday Feb 28 is Ash Wednesday
        date(2025, 3, 6): "2025-03-05",
        date(2025, 3, 7): "2025-03-06",
    }


def test_schedule_on_a_job_without_partitions_tags_the_business_day(tick):
    @dg.op
    def noop():
        return None

    @dg.job
    def send_report():
        noop()

    schedule = business_day_schedule(name="report", target=send_report, calendar_name="B3", hour=7)
    data = tick(schedule, date(2025, 12, 24), hour=7)
    assert data.skip_message == "24/12/2025 não é dia útil no calendário B3: Véspera de Natal"
    run = tick(schedule, date(2025, 12, 23), hour=7).run_requests[0]
    assert run.partition_key is None
    assert run.tags["routines/business_day"] == "2025-12-23"
    assert run.tags["routines/calendar"] == "B3"


def bizdays_is_business_day():
    bizdays = pytest.importorskip("bizdays")
    oracle = bizdays.Calendar.load("ANBIMA")
    return lambda d: bool(oracle.isbizday(d))


@pytest.mark.parametrize("nth", [5, -1])
def test_monthly_schedule_fires_on_the_right_days_of_a_whole_year(nth, tick):
    @dg.op
    def noop():
        return None

    @dg.job
    def monthly_close():
        noop()

    schedule = monthly_business_day_schedule(
        name=f"close_{nth}".replace("-", "m"), target=monthly_close, calendar_name="ANBIMA", nth=nth, hour=9
    )

    def invoke(day: date):
        # direct invocation of the schedule with an explicit tick time (evaluate_tick is exercised above)
        when = datetime(day.year, day.month, day.day, 9, 0, tzinfo=SP)
        return schedule(dg.build_schedule_context(scheduled_execution_time=when))

    outcomes = {day: invoke(day) for day in days(date(2025, 1, 1), date(2025, 12, 31))}
    fired = [day for day, outcome in outcomes.items() if isinstance(outcome, dg.RunRequest)]
    assert all(isinstance(o, (dg.RunRequest, dg.SkipReason)) for o in outcomes.values())
    # expected from an independent oracle: bizdays' ANBIMA calendar
    is_business = bizdays_is_business_day()
    expected = []
    for month in range(1, 13):
        month_days = days(date(2025, month, 1), date(2025, month, 28) + timedelta(days=4))
        business = [d for d in month_days if d.month == month and is_business(d)]
        expected.append(business[nth - 1] if nth > 0 else business[nth])
    assert fired == expected
    assert len(fired) == 12
    if nth == 5:
        assert date(2025, 3, 11) in fired  # Carnival pushes March's 5th business day
    else:
        assert date(2025, 10, 31) in fired and date(2025, 11, 28) in fired
    skipped = tick(schedule, date(2025, 3, 10), hour=9)  # through evaluate_tick too
    if nth == 5:
        assert skipped.skip_message == (
            "10/03/2025 não é o 5º dia útil do mês no calendário ANBIMA: o 5º dia útil de 03/2025 é 11/03/2025"
        )
    else:
        assert "último dia útil" in skipped.skip_message and "31/03/2025" in skipped.skip_message
    assert (
        tick(schedule, fired[2], hour=9).run_requests[0].tags["routines/business_day"] == fired[2].isoformat()
    )


def test_monthly_schedule_with_monthly_partitions_requests_the_previous_month(tick):
    monthly = dg.MonthlyPartitionsDefinition(start_date="2024-01-01", timezone=TIMEZONE)

    @dg.asset(partitions_def=monthly)
    def monthly_report() -> None:
        return None

    schedule = monthly_business_day_schedule(
        name="monthly_report_schedule",
        target=dg.AssetSelection.assets(monthly_report),
        calendar_name="ANBIMA",
        nth=5,
        hour=9,
        partitions_def=monthly,
    )
    defs = dg.Definitions(assets=[monthly_report], schedules=[schedule])
    run = tick(schedule, date(2025, 3, 11), hour=9, defs=defs).run_requests[0]
    assert run.partition_key == "2025-02-01"


def test_resource_and_code_location_definitions():
    defs = load_code_location()

    assert defs.resources["anbima_calendar"].calendar.name == "ANBIMA"
    assert defs.resources["b3_calendar"].calendar.name == "B3"
    assert "anbima_calendar" in defs.get_repository_def().get_top_level_resources()
    assert not BusinessCalendarResource(name="b3").calendar.is_business_day(date(2025, 12, 24))


def test_same_day_partitions_exist_during_the_day_only_with_include_current_day():
    at_seven_pm = datetime(2025, 3, 5, 19, tzinfo=SP)
    with dg.partition_loading_context(effective_dt=at_seven_pm):
        assert PARTITIONS_2025.get_last_partition_key() == "2025-03-05"
        assert PARTITIONS_PAST_DAYS.get_last_partition_key() == "2025-02-28"
    with pytest.raises(ValueError, match="include_current_day=True"):
        business_day_schedule(
            name="same_day",
            target=daily_prices,
            calendar_name="ANBIMA",
            hour=19,
            partitions_def=PARTITIONS_PAST_DAYS,
        )


def test_schedule_builders_reject_bad_arguments():
    with pytest.raises(ValueError):
        business_day_schedule(name="x", target=dg.AssetSelection.all(), calendar_name="ANBIMA", hour=25)
    with pytest.raises(ValueError):
        business_day_schedule(
            name="x", target=dg.AssetSelection.all(), calendar_name="ANBIMA", hour=1, business_days_late=-1
        )
    with pytest.raises(ValueError):
        monthly_business_day_schedule(
            name="x", target=dg.AssetSelection.all(), calendar_name="ANBIMA", nth=0, hour=1
        )
