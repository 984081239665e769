"""Business-day operations: scalar, batch (numpy) and their agreement with each other and with bizdays."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from routines.calendar import Calendar, DayGroup, get_calendar

CARNIVAL_MONDAY = date(2025, 3, 3)


@pytest.fixture
def anbima() -> Calendar:
    return get_calendar("ANBIMA")


def test_following_preceding_next_previous(anbima):
    assert anbima.following(CARNIVAL_MONDAY) == date(2025, 3, 5)
    assert anbima.preceding(CARNIVAL_MONDAY) == date(2025, 2, 28)
    assert anbima.following(date(2025, 3, 5)) == date(2025, 3, 5)
    assert anbima.next_business_day(date(2025, 3, 5)) == date(2025, 3, 6)
    assert anbima.previous_business_day(date(2025, 3, 5)) == date(2025, 2, 28)


def test_adjust_conventions(anbima):
    saturday_end_of_month = date(2025, 5, 31)
    assert anbima.adjust(saturday_end_of_month, "following") == date(2025, 6, 2)
    assert anbima.adjust(saturday_end_of_month, "modified_following") == date(2025, 5, 30)
    assert anbima.adjust(saturday_end_of_month, "preceding") == date(2025, 5, 30)
    assert anbima.adjust(date(2025, 6, 1), "modified_preceding") == date(2025, 6, 2)
    assert anbima.adjust(CARNIVAL_MONDAY, "skip") is None
    assert anbima.adjust(date(2025, 3, 5), "skip") == date(2025, 3, 5)
    with pytest.raises(ValueError, match="unknown convention"):
        anbima.adjust(CARNIVAL_MONDAY, "nearest")


def test_offset(anbima):
    assert anbima.offset(date(2025, 2, 28), 1) == date(2025, 3, 5)
    assert anbima.offset(date(2025, 3, 5), -1) == date(2025, 2, 28)
    assert anbima.offset(CARNIVAL_MONDAY, 1) == date(2025, 3, 5)  # first business day strictly after
    assert anbima.offset(CARNIVAL_MONDAY, -1) == date(2025, 2, 28)
    assert anbima.offset(CARNIVAL_MONDAY, 0) == date(2025, 3, 5)
    assert anbima.offset(date(2025, 1, 2), 252) == date(2026, 1, 2)
    assert anbima.offset(date(2026, 1, 2), -252) == date(2025, 1, 2)
    assert anbima.add(date(2025, 12, 31), 2) == date(2026, 1, 5)


def test_between_and_lists(anbima):
    # [start, end): the start counts, the end does not
    assert anbima.business_days_between(date(2025, 2, 28), date(2025, 3, 5)) == 1
    assert anbima.business_days_between(date(2025, 3, 5), date(2025, 2, 28)) == -1
    assert anbima.business_days_between(date(2025, 3, 5), date(2025, 3, 5)) == 0
    # antisymmetric: from Saturday back to Carnival Monday = minus the business days in [Mon, Sat)
    assert anbima.business_days_between(date(2025, 3, 8), date(2025, 3, 3)) == -3
    assert anbima.business_days_between_many([date(2025, 3, 8)], [date(2025, 3, 3)]).tolist() == [-3]
    assert anbima.business_days(date(2025, 2, 27), date(2025, 3, 6)) == [
        date(2025, 2, 27),
        date(2025, 2, 28),
        date(2025, 3, 5),
        date(2025, 3, 6),
    ]
    assert anbima.business_days(date(2025, 3, 6), date(2025, 3, 5)) == []
    for start in (date(2025, 1, 2), date(2025, 3, 5), date(2024, 12, 30)):
        for n in (1, 5, 21, 300):
            assert anbima.business_days_between(start, anbima.offset(start, n)) == n


def test_nth_business_day(anbima):
    assert len(anbima.business_days_of_month(2024, 11)) == 19
    assert anbima.nth_business_day(2025, 3, 1) == date(2025, 3, 5)
    assert anbima.nth_business_day(2025, 3, 5) == date(2025, 3, 11)
    assert anbima.nth_business_day(2025, 3, -1) == date(2025, 3, 31)
    assert anbima.nth_business_day(2025, 11, -1) == date(2025, 11, 28)
    assert anbima.nth_business_day(2025, 12, -2) == date(2025, 12, 30)
    assert anbima.business_day_number(date(2025, 3, 11)) == 5
    assert anbima.business_day_number(CARNIVAL_MONDAY) is None
    with pytest.raises(ValueError, match="no business day number 25"):
        anbima.nth_business_day(2025, 3, 25)
    with pytest.raises(ValueError):
        anbima.nth_business_day(2025, 3, 0)
    with pytest.raises(ValueError, match="invalid month"):
        anbima.business_days_of_month(2025, 13)


def test_day_groups(anbima):
    christmas_on_thursday, independence_on_sunday = date(2025, 12, 25), date(2025, 9, 7)
    plain_saturday, business = date(2025, 9, 6), date(2025, 9, 8)
    table = {
        DayGroup.BUSINESS_DAYS: {business},
        DayGroup.NON_BUSINESS_DAYS: {christmas_on_thursday, independence_on_sunday, plain_saturday},
        DayGroup.HOLIDAYS: {christmas_on_thursday, independence_on_sunday},
        DayGroup.WEEKENDS: {independence_on_sunday, plain_saturday},
        DayGroup.EVERY_DAY: {christmas_on_thursday, independence_on_sunday, plain_saturday, business},
    }
    days = [christmas_on_thursday, independence_on_sunday, plain_saturday, business]
    for group, members in table.items():
        assert {d for d in days if group.contains(anbima, d)} == members, group
        assert {d for d, m in zip(days, anbima.in_group_many(days, group), strict=True) if m} == members, (
            group
        )
    assert anbima.in_group(business, "business_days")
    assert DayGroup.HOLIDAYS.label == "feriados"
    with pytest.raises(ValueError):
        anbima.in_group(business, "fortnights")


def test_string_and_datetime_inputs(anbima):
    assert anbima.is_business_day("2025-03-05") is True
    assert anbima.closed_reason("2025-03-03") == "Carnaval"
    with pytest.raises(ValueError, match="invalid date"):
        anbima.is_business_day("2025-02-30")
    with pytest.raises(ValueError, match="supported range"):
        anbima.is_business_day(date(1800, 1, 2))


def random_days(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.datetime64("2001-01-01") + rng.integers(0, 365 * 30, count).astype("timedelta64[D]")


@pytest.mark.parametrize("name", ["ANBIMA", "B3", "BR-SP"])
def test_batch_agrees_with_scalar(name):
    calendar = get_calendar(name)
    starts, ends = random_days(400, 1), random_days(400, 2)
    counts = calendar.business_days_between_many(starts, ends)
    flags = calendar.is_business_day_many(starts)
    moved = calendar.offset_many(starts, 7)
    back = calendar.offset_many(starts, np.full(starts.shape, -3))
    following = calendar.adjust_many(starts, "following")
    modified = calendar.adjust_many(starts, "modified_following")
    skipped = calendar.adjust_many(starts, "skip")
    for i, (start, end) in enumerate(zip(starts.astype(object), ends.astype(object), strict=True)):
        assert counts[i] == calendar.business_days_between(start, end)
        assert flags[i] == calendar.is_business_day(start)
        assert moved[i].item() == calendar.offset(start, 7)
        assert back[i].item() == calendar.offset(start, -3)
        assert following[i].item() == calendar.adjust(start, "following")
        assert modified[i].item() == calendar.adjust(start, "modified_following")
        assert (None if np.isnat(skipped[i]) else skipped[i].item()) == calendar.adjust(start, "skip")


def test_batch_accepts_lists_strings_and_pandas():
    import pandas as pd

    anbima = get_calendar("ANBIMA")
    as_list = anbima.is_business_day_many([CARNIVAL_MONDAY, date(2025, 3, 5)])
    as_text = anbima.is_business_day_many(["2025-03-03", "2025-03-05"])
    as_series = anbima.is_business_day_many(pd.Series(pd.to_datetime(["2025-03-03", "2025-03-05"])))
    as_datetimes = anbima.is_business_day_many([datetime(2025, 3, 3, 12), datetime(2025, 3, 5, 23, 59)])
    mixed = anbima.is_business_day_many([datetime(2025, 3, 3, 12), "2025-03-05"])
    for result in (as_list, as_text, as_series, as_datetimes, mixed):
        assert result.tolist() == [False, True]
    assert anbima.business_days_between_many([], []).tolist() == []


def test_batch_counts_equal_bizdays():
    bizdays = pytest.importorskip("bizdays")
    oracle = bizdays.Calendar.load("ANBIMA")
    anbima = get_calendar("ANBIMA")
    starts = anbima.adjust_many(random_days(300, 3), "following")
    ends = anbima.adjust_many(random_days(300, 4), "following")
    ours = anbima.business_days_between_many(starts, ends)
    theirs = [oracle.bizdays(s, e) for s, e in zip(starts.astype(object), ends.astype(object), strict=True)]
    assert ours.tolist() == theirs


def test_year_range_is_extended_on_demand():
    calendar = get_calendar("B3")
    assert calendar.business_days_between(date(2025, 1, 1), date(2026, 1, 1)) == 250
    # a later, wider query extends the numpy calendar and still sees the earlier years' holidays
    assert calendar.business_days_between(date(2010, 1, 1), date(2040, 1, 1)) == sum(
        len(calendar.business_days_of_year(y)) for y in range(2010, 2040)
    )
    assert calendar.business_days_between(date(2025, 1, 1), date(2026, 1, 1)) == 250


def test_offset_far_beyond_cached_years():
    anbima = get_calendar("ANBIMA")
    start = date(2025, 1, 2)
    far = anbima.offset(start, 252 * 30)
    assert anbima.business_days_between(start, far) == 252 * 30
    assert anbima.is_business_day(far)
    # the numpy path (|n| > 40) and the day-by-day path agree
    day = start
    for _ in range(100):
        day = anbima.next_business_day(day)
    assert anbima.offset(start, 100) == day
    assert anbima.offset(day, -100) == start
    assert day - start > timedelta(days=100)
