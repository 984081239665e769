"""Business-day daily partitions: keys are exactly the calendar's business days (thin Dagster glue).

Dagster only knows raw `exclusions` (cron strings and partition-start datetimes), so the factory turns the
calendar into them: the weekend as the cron ``0 0 * * 6,0`` and each holiday falling on a weekday as the
datetime at 00:00 America/Sao_Paulo (the partition's start). Holidays are generated from `start_date` through
the end of next year (computed when the code location loads, so a running deployment stays ahead as long as
it is reloaded at least once a year). A company calendar that opens on a weekend day gets explicit weekend
datetimes instead of the cron, so that day keeps its partition.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from routines.calendar.core import _as_date

TIMEZONE = "America/Sao_Paulo"
WEEKEND_CRON = "0 0 * * 6,0"


def exclusions_for(calendar_name: str, start: date, end: date) -> list[str | datetime]:
    """Dagster exclusions for the non-business days of a calendar in [start, end]."""
    from routines.calendar.registry import get_calendar

    calendar = get_calendar(calendar_name)
    zone = ZoneInfo(TIMEZONE)
    closed: list[date] = []
    for year in range(start.year, end.year + 1):
        closed.extend(day for day, _ in calendar.holidays(year) if start <= day <= end)
    if calendar.weekdays == frozenset(range(5)) and not any(d.weekday() >= 5 for d in calendar.extra_open):
        result: list[str | datetime] = [WEEKEND_CRON]
        days = sorted(day for day in closed if day.weekday() < 5)
    else:
        result = []
        weekend = []
        day = start
        while day <= end:
            if not calendar.is_business_day(day):
                weekend.append(day)
            day += timedelta(days=1)
        days = sorted(set(weekend))
    result.extend(datetime(d.year, d.month, d.day, tzinfo=zone) for d in days)
    return result


def business_day_partitions(
    calendar_name: str,
    start_date: str | date,
    *,
    end_date: str | date | None = None,
    horizon: date | None = None,
    include_current_day: bool = False,
) -> dg.DailyPartitionsDefinition:
    """Daily partitions (keys "YYYY-MM-DD", tz America/Sao_Paulo) on the business days of `calendar_name`.

    `end_date` (exclusive, like Dagster's) fixes the last partition; without it partitions run up to today and
    exclusions are generated through `horizon` (default: Dec 31 of next year).

    Like every Dagster daily partition, the partition of day D exists once D is over (00:00 of the next day).
    `include_current_day=True` (Dagster's ``end_offset=1``) makes the current business day's partition exist
    during the day, which a same-day (D+0) schedule needs; on a weekend or holiday the NEXT business day's
    partition then already shows.
    """
    start = _as_date(start_date)
    end = _as_date(end_date) if end_date is not None else None
    if horizon is None:
        horizon = end or date(datetime.now(ZoneInfo(TIMEZONE)).year + 1, 12, 31)
    exclusions = exclusions_for(calendar_name, start, horizon)
    return dg.DailyPartitionsDefinition(
        start_date=start.isoformat(),
        end_date=end.isoformat() if end else None,
        timezone=TIMEZONE,
        exclusions=exclusions,
        end_offset=1 if include_current_day else 0,
    )
