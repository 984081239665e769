"""When a report is due: cron expression + time zone + business-day calendar options. Pure (no DB, no Dagster).

Cron times are wall-clock times in the definition's time zone (default America/Sao_Paulo). Each wall-clock
time fires at most once: a time that does not exist (Brazil's DST start before 2019: 00:00 jumped to 01:00)
fires at the first instant after the gap, a repeated one (DST end: 23:00-23:59 twice) fires at its first
occurrence.

Calendar options (need `calendar_name`):
- `business_days_only`: a fire time falling on a non-business day is shifted by `shift`: `skip` (dropped),
  `following`, `preceding` or `modified_following` (same time of day, on the adjusted date); a date reached
  twice fires once.
- `nth_business_day` (1 = first, -1 = last business day of the month): the cron expression gives only the
  time of day and the months (its day-of-month and day-of-week fields are ignored).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from routines.reports.models import DEFAULT_TIMEZONE, SHIFT_CONVENTIONS
from routines.reports.validation import ReportValidationError

MAX_CANDIDATES = 5000  # cron candidates examined per call before giving up (e.g. a cron that never fires)


def _default_calendar_lookup(name: str):
    from routines.calendar import get_calendar

    return get_calendar(name)


@dataclass(frozen=True)
class ScheduleSpec:
    cron: str
    timezone: str = DEFAULT_TIMEZONE
    calendar_name: str | None = None
    business_days_only: bool = False
    shift: str = "skip"
    nth_business_day: int | None = None

    @classmethod
    def of(cls, definition) -> ScheduleSpec:
        return cls(
            cron=definition.cron,
            timezone=definition.timezone or DEFAULT_TIMEZONE,
            calendar_name=definition.calendar_name,
            business_days_only=bool(definition.business_days_only),
            shift=definition.shift or "skip",
            nth_business_day=definition.nth_business_day,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def validate_schedule(
    spec: ScheduleSpec, calendar_lookup: Callable | None = None, report: str | None = None
) -> None:
    """Check every schedule field; raises ReportValidationError naming the field."""
    if not spec.cron or not croniter.is_valid(spec.cron) or len(spec.cron.split()) != 5:
        raise ReportValidationError(
            "cron", f"invalid cron expression {spec.cron!r} (5 fields: minute hour day month weekday)", report
        )
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportValidationError("timezone", f"unknown time zone {spec.timezone!r}", report) from None
    if spec.shift not in SHIFT_CONVENTIONS:
        raise ReportValidationError(
            "shift", f"{spec.shift!r}: expected one of {', '.join(SHIFT_CONVENTIONS)}", report
        )
    if spec.nth_business_day is not None and (spec.nth_business_day == 0 or abs(spec.nth_business_day) > 23):
        raise ReportValidationError(
            "nth_business_day", f"{spec.nth_business_day}: expected 1..23 or -1..-23 (-1 = last)", report
        )
    if (spec.business_days_only or spec.nth_business_day is not None) and not spec.calendar_name:
        raise ReportValidationError(
            "calendar_name", "business-day options need a calendar name (e.g. ANBIMA, B3, BR)", report
        )
    if spec.business_days_only and spec.nth_business_day is not None:
        raise ReportValidationError(
            "nth_business_day", "choose either business_days_only or nth_business_day, not both", report
        )
    if spec.calendar_name:
        lookup = calendar_lookup or _default_calendar_lookup
        try:
            lookup(spec.calendar_name)
        except Exception as exc:  # noqa: BLE001 - unknown calendar: any lookup error
            raise ReportValidationError("calendar_name", str(exc), report) from None


def _localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Wall-clock time -> UTC. Nonexistent times (DST gap) land after the gap; repeated ones at the first."""
    # zoneinfo with fold=0: a time in a gap gets the offset before the jump (= the instant after the gap),
    # a repeated time gets its first occurrence.
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _cron_wall_times(cron: str, start_naive: datetime) -> Iterator[datetime]:
    """Cron wall-clock times strictly after `start_naive` (naive local)."""
    iterator = croniter(cron, start_naive)
    for _ in range(MAX_CANDIDATES * 10):
        yield iterator.get_next(datetime)


class Scheduler:
    """Fire times of one report schedule. `calendar_lookup(name)` returns a routines.calendar Calendar."""

    def __init__(self, spec: ScheduleSpec, calendar_lookup: Callable | None = None):
        self.spec = spec
        self.zone = spec.zone
        self._lookup = calendar_lookup or _default_calendar_lookup
        self._calendar = None

    @property
    def calendar(self):
        if self._calendar is None and self.spec.calendar_name:
            self._calendar = self._lookup(self.spec.calendar_name)
        return self._calendar

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after` (aware), in UTC; None if none within the search bound."""
        if after.tzinfo is None:
            raise ValueError("`after` must be timezone-aware")
        if self.spec.nth_business_day is not None:
            return self._next_nth(after)
        return self._next_cron(after)

    def fire_times(self, start: datetime, end: datetime, inclusive_start: bool = True) -> Iterator[datetime]:
        """Fire times in [start, end] (or (start, end]), ascending."""
        current = start - timedelta(microseconds=1) if inclusive_start else start
        while True:
            nxt = self.next_after(current)
            if nxt is None or nxt > end:
                return
            yield nxt
            current = nxt

    # -- plain cron, optionally business days only ------------------------------------------------------
    def _next_cron(self, after: datetime) -> datetime | None:
        after_utc = after.astimezone(UTC)
        # Start an hour early in wall-clock terms so a repeated hour (DST end) is not jumped over.
        start_naive = after_utc.astimezone(self.zone).replace(tzinfo=None) - timedelta(hours=1)
        examined = 0
        for wall in _cron_wall_times(self.spec.cron, start_naive):
            examined += 1
            if examined > MAX_CANDIDATES:
                return None
            fire_naive = wall
            if self.spec.business_days_only:
                adjusted = self._adjust(wall.date())
                if adjusted is None:
                    continue
                fire_naive = datetime.combine(adjusted, wall.time())
            fire = _localize(fire_naive, self.zone)
            if fire > after_utc:
                return fire
        return None

    def _adjust(self, day: date) -> date | None:
        calendar = self.calendar
        if calendar.is_business_day(day):
            return day
        if self.spec.shift == "skip":
            return None
        return calendar.adjust(day, self.spec.shift)

    # -- Nth business day of the month ------------------------------------------------------------------
    def _day_cron(self) -> str:
        minute, hour, _dom, month, _dow = self.spec.cron.split()
        return f"{minute} {hour} * {month} *"

    def _next_nth(self, after: datetime) -> datetime | None:
        after_utc = after.astimezone(UTC)
        local = after_utc.astimezone(self.zone)
        year, month = local.year, local.month
        day_cron = self._day_cron()
        for _ in range(12 * 30):
            try:
                target = self.calendar.nth_business_day(year, month, self.spec.nth_business_day)
            except ValueError:  # fewer business days than n in this month
                target = None
            if target is not None:
                start = datetime.combine(target, time(0)) - timedelta(minutes=1)
                for wall in _cron_wall_times(day_cron, start):
                    if wall.date() != target:
                        break
                    fire = _localize(wall, self.zone)
                    if fire > after_utc:
                        return fire
            month += 1
            if month == 13:
                year, month = year + 1, 1
        return None


def partition_day(fire: datetime, zone: str = DEFAULT_TIMEZONE) -> str:
    """The report's reference day (partition key) of a fire time: its date in America/Sao_Paulo."""
    return fire.astimezone(ZoneInfo(zone)).date().isoformat()
