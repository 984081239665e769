"""Fire times: cron in America/Sao_Paulo (incl. the DST years before 2019) + the business-day calendar."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from routines.reports.schedule import Scheduler, ScheduleSpec, partition_day, validate_schedule
from routines.reports.validation import ReportValidationError

SP = ZoneInfo("America/Sao_Paulo")


def sp(*args) -> datetime:
    return datetime(*args, tzinfo=SP)


def times(spec: ScheduleSpec, start: datetime, end: datetime) -> list[datetime]:
    return [t.astimezone(SP) for t in Scheduler(spec).fire_times(start, end)]


def test_daily_cron_keeps_wall_clock_time_across_the_2018_dst_end():
    fires = times(ScheduleSpec("0 8 * * *"), sp(2018, 2, 16), sp(2018, 2, 20))
    assert [f.strftime("%d %H:%M %z") for f in fires] == ["16 08:00 -0200", "17 08:00 -0200", "18 08:00 -0300",
                                                         "19 08:00 -0300"]  # fmt: skip
    utc_hours = [f.astimezone(UTC).hour for f in fires]
    assert utc_hours == [10, 10, 11, 11]


def test_midnight_that_does_not_exist_fires_right_after_the_gap_2018_dst_start():
    # 2018-11-04 00:00 did not exist in Sao Paulo (clocks jumped to 01:00)
    fires = times(ScheduleSpec("0 0 * * *"), sp(2018, 11, 3), sp(2018, 11, 5, 12))
    assert [f.isoformat() for f in fires] == [
        "2018-11-03T00:00:00-03:00",
        "2018-11-04T01:00:00-02:00",
        "2018-11-05T00:00:00-02:00",
    ]


def test_repeated_hour_at_dst_end_fires_once():
    # 2018-02-17 23:00-23:59 happened twice; 23:30 must fire once
    fires = times(ScheduleSpec("30 23 * * *"), sp(2018, 2, 16), sp(2018, 2, 19))
    assert [f.astimezone(UTC).isoformat() for f in fires] == [
        "2018-02-17T01:30:00+00:00",
        "2018-02-18T01:30:00+00:00",
        "2018-02-19T02:30:00+00:00",
    ]
    # asking again from inside the repeated hour (second occurrence) does not fire it again
    second_2330 = datetime(2018, 2, 18, 2, 30, tzinfo=UTC)
    assert Scheduler(ScheduleSpec("30 23 * * *")).next_after(second_2330) == datetime(
        2018, 2, 19, 2, 30, tzinfo=UTC
    )


def test_no_dst_since_2019():
    fires = times(ScheduleSpec("0 8 * * *"), sp(2019, 11, 3), sp(2019, 11, 5))
    assert {f.astimezone(UTC).hour for f in fires} == {11}


def test_business_days_only_skips_carnaval_and_weekend():
    spec = ScheduleSpec("0 8 * * *", calendar_name="ANBIMA", business_days_only=True)
    fires = times(spec, sp(2018, 2, 9), sp(2018, 2, 15, 23))
    assert [f.date().isoformat() for f in fires] == ["2018-02-09", "2018-02-14", "2018-02-15"]


@pytest.mark.parametrize(
    ("shift", "expected"),
    [
        ("skip", "2019-02-12T08:00:00-02:00"),  # 2018-02-12 is Carnaval: next year's 12 Feb (a Tuesday)
        ("following", "2018-02-14T08:00:00-02:00"),
        ("preceding", "2018-02-09T08:00:00-02:00"),
        ("modified_following", "2018-02-14T08:00:00-02:00"),
    ],
)
def test_shift_conventions_move_a_holiday_fire_time(shift, expected):
    spec = ScheduleSpec("0 8 12 2 *", calendar_name="ANBIMA", business_days_only=True, shift=shift)
    fire = Scheduler(spec).next_after(sp(2018, 2, 1))
    assert fire.astimezone(SP).isoformat() == expected


def test_following_does_not_fire_twice_when_two_days_shift_to_the_same_day():
    spec = ScheduleSpec("0 8 * * *", calendar_name="ANBIMA", business_days_only=True, shift="following")
    fires = times(spec, sp(2018, 2, 9, 9), sp(2018, 2, 15, 23))
    # Sat, Sun, Carnaval Mon and Tue all move to Ash Wednesday: one fire
    assert [f.date().isoformat() for f in fires] == ["2018-02-14", "2018-02-15"]


def test_nth_business_day_of_the_month():
    first = ScheduleSpec("30 7 * * *", calendar_name="ANBIMA", nth_business_day=1)
    assert (
        Scheduler(first).next_after(sp(2018, 12, 15)).astimezone(SP).isoformat()
        == "2019-01-02T07:30:00-02:00"
    )
    last_anbima = ScheduleSpec("0 18 * * *", calendar_name="ANBIMA", nth_business_day=-1)
    last_b3 = ScheduleSpec("0 18 * * *", calendar_name="B3", nth_business_day=-1)
    assert Scheduler(last_anbima).next_after(sp(2018, 12, 15)).date().isoformat() == "2018-12-31"
    assert Scheduler(last_b3).next_after(sp(2018, 12, 15)).date().isoformat() == "2018-12-28"
    # the cron's month field still applies: only in March
    march = ScheduleSpec("0 9 * 3 *", calendar_name="ANBIMA", nth_business_day=3)
    fires = times(march, sp(2025, 1, 1), sp(2026, 12, 31))
    assert [f.date().isoformat() for f in fires] == ["2025-03-07", "2026-03-04"]  # 2025: Carnaval 3-4 March


def test_partition_day_is_the_sao_paulo_date():
    assert partition_day(datetime(2018, 2, 18, 1, 30, tzinfo=UTC)) == "2018-02-17"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (ScheduleSpec("61 8 * * *"), "cron"),
        (ScheduleSpec("0 8 * *"), "cron"),
        (ScheduleSpec("0 8 * * *", timezone="America/Nowhere"), "timezone"),
        (ScheduleSpec("0 8 * * *", business_days_only=True), "calendar_name"),
        (ScheduleSpec("0 8 * * *", calendar_name="NOPE", business_days_only=True), "calendar_name"),
        (ScheduleSpec("0 8 * * *", calendar_name="B3", business_days_only=True, shift="sideways"), "shift"),
        (ScheduleSpec("0 8 * * *", calendar_name="B3", nth_business_day=0), "nth_business_day"),
    ],
)
def test_invalid_schedules_name_the_field(spec, field):
    with pytest.raises(ReportValidationError, match=f"field {field}:"):
        validate_schedule(spec)
