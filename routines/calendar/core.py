"""The `Calendar`: business-day arithmetic over one set of closed days. Pure Python + numpy, no Dagster.

A calendar is a week mask (Monday-Friday), a function giving the holidays of a year (computed on first use of
that year, then cached) and optional extra closed / extra open days (company calendars). Scalar operations
work day by day on the per-year tables; batch operations (`*_many`) use a numpy `busdaycalendar` covering the
years in use, extended on demand.

Conventions:
- `business_days_between(start, end)` counts business days in the half-open interval [start, end) - like
  `numpy.busday_count` and like counting "D+N": from a business day d, `business_days_between(d, offset(d,
  n)) == n`. Antisymmetric: between(a, b) == -between(b, a) (numpy's own count differs when end < start).
- `offset(d, n)`: n > 0 the n-th business day strictly after d; n < 0 the |n|-th strictly before d; n == 0 d
  itself when it is a business day, else the following business day.
- `business_days(start, end)` is inclusive on both ends.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MIN_YEAR = 1900
MAX_YEAR = 2199
WEEKDAY_NAMES = (
    "segunda-feira",
    "terça-feira",
    "quarta-feira",
    "quinta-feira",
    "sexta-feira",
    "sábado",
    "domingo",
)
CONVENTIONS = ("following", "preceding", "modified_following", "modified_preceding", "skip")
_MONDAY_TO_FRIDAY = (0, 1, 2, 3, 4)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class DayGroup(enum.StrEnum):
    """The legacy scheduler's "grupos de dias"."""

    BUSINESS_DAYS = "business_days"  # dias úteis
    NON_BUSINESS_DAYS = "non_business_days"  # dias não úteis (fins de semana e feriados)
    HOLIDAYS = "holidays"  # feriados (também os que caem no fim de semana)
    WEEKENDS = "weekends"  # sábados e domingos
    EVERY_DAY = "every_day"  # todos os dias

    @property
    def label(self) -> str:
        return {
            "business_days": "dias úteis",
            "non_business_days": "dias não úteis",
            "holidays": "feriados",
            "weekends": "fins de semana",
            "every_day": "todos os dias",
        }[self.value]

    def contains(self, calendar: Calendar, day: date) -> bool:
        return calendar.in_group(day, self)


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"invalid date {value!r}: expected YYYY-MM-DD") from exc
    if type(value).__name__ == "datetime64":  # numpy scalar (numpy is imported lazily)
        return value.astype("datetime64[D]").item()
    to_pydate = getattr(value, "date", None)  # pandas Timestamp
    if callable(to_pydate):
        return to_pydate()
    raise TypeError(f"not a date: {value!r}")


def as_datetime64(values) -> np.ndarray:
    """Array-like of dates (date objects, ISO strings, numpy/pandas datetimes) -> datetime64[D] array."""
    import numpy as np

    if isinstance(values, (list, tuple)) and values and isinstance(values[0], date):
        try:  # fast path for lists of dates: ordinals through fromiter, ~20x faster than np.array(dates)
            ordinals = np.fromiter(map(date.toordinal, values), dtype="int64", count=len(values))
        except TypeError:
            pass  # mixed contents: the general path below
        else:
            return (ordinals - _EPOCH_ORDINAL).astype("datetime64[D]")
    array = np.asarray(values)
    if array.size == 0:
        return array.astype("datetime64[D]") if array.dtype.kind in "MOUS" else np.array([], "datetime64[D]")
    if array.dtype.kind == "M":
        return array.astype("datetime64[D]")
    if array.dtype.kind in "OUS":
        if array.dtype.kind == "O" and array.size and not isinstance(array.flat[0], (date, str)):
            array = np.array([_as_date(v) for v in array.ravel()], dtype="datetime64[D]").reshape(array.shape)
        return array.astype("datetime64[D]")
    raise TypeError(f"cannot read dates from an array of {array.dtype}")


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"year {year} outside the supported range {MIN_YEAR}-{MAX_YEAR}")


class Calendar:
    """Business days of one named calendar. Build them with `routines.calendar.get_calendar(name)`."""

    def __init__(
        self,
        name: str,
        holidays_of_year: Callable[[int], Mapping[date, str]],
        *,
        description: str = "",
        extra_closed: Mapping[date, str] | None = None,
        extra_open: Mapping[date, str] | None = None,
        weekmask: Iterable[int] = _MONDAY_TO_FRIDAY,
    ):
        self.name = name
        self.description = description
        self._holidays_of_year = holidays_of_year
        self.extra_closed: dict[date, str] = dict(extra_closed or {})
        self.extra_open: dict[date, str] = dict(extra_open or {})
        self.weekdays = frozenset(weekmask)
        self._years: dict[int, dict[date, str]] = {}
        self._lock = threading.RLock()
        # numpy calendar: covers the years [_np_first, _np_last]
        self._np_first = self._np_last = 0
        self._np_calendar: np.busdaycalendar | None = None
        self._table: tuple[int, np.ndarray, np.ndarray] | None = None
        self._open_weekend = any(d.weekday() not in self.weekdays for d in self.extra_open)

    def __repr__(self) -> str:
        return f"Calendar({self.name!r})"

    # ---------------------------------------------------------------- per-year tables
    def _closed_of_year(self, year: int) -> dict[date, str]:
        table = self._years.get(year)
        if table is None:
            _check_year(year)
            table = dict(self._holidays_of_year(year))
            for day, reason in self.extra_closed.items():
                if day.year == year:
                    current = table.get(day)
                    table[day] = reason if current is None or current == reason else f"{reason}; {current}"
            for day in self.extra_open:
                if day.year == year:
                    table.pop(day, None)
            self._years[year] = table
        return table

    def holidays(self, year: int) -> list[tuple[date, str]]:
        """Holidays and extra closed days of a year (also on weekends), sorted, with their pt-BR names."""
        return sorted(self._closed_of_year(year).items())

    def holiday_name(self, day: date | str) -> str | None:
        """Name of the holiday (or company closure) on `day`, weekend or not; None if none."""
        day = _as_date(day)
        return self._closed_of_year(day.year).get(day)

    def is_business_day(self, day: date | str) -> bool:
        day = _as_date(day)
        if day in self.extra_open:
            return True
        return day.weekday() in self.weekdays and day not in self._closed_of_year(day.year)

    def closed_reason(self, day: date | str) -> str | None:
        """Why `day` is not a business day (holiday name, or "sábado"/"domingo"); None on a business day."""
        day = _as_date(day)
        if self.is_business_day(day):
            return None
        return self.holiday_name(day) or WEEKDAY_NAMES[day.weekday()]

    def in_group(self, day: date | str, group: DayGroup | str) -> bool:
        """Membership in a legacy day group (`DayGroup`)."""
        day = _as_date(day)
        group = DayGroup(group)
        if group is DayGroup.EVERY_DAY:
            return True
        if group is DayGroup.BUSINESS_DAYS:
            return self.is_business_day(day)
        if group is DayGroup.NON_BUSINESS_DAYS:
            return not self.is_business_day(day)
        if group is DayGroup.HOLIDAYS:
            return self.holiday_name(day) is not None
        return day.weekday() not in self.weekdays  # WEEKENDS

    # ---------------------------------------------------------------- moving around
    def following(self, day: date | str) -> date:
        """`day` if it is a business day, else the next business day."""
        day = _as_date(day)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def preceding(self, day: date | str) -> date:
        """`day` if it is a business day, else the previous business day."""
        day = _as_date(day)
        while not self.is_business_day(day):
            day -= timedelta(days=1)
        return day

    def next_business_day(self, day: date | str) -> date:
        """The first business day strictly after `day`."""
        return self.following(_as_date(day) + timedelta(days=1))

    def previous_business_day(self, day: date | str) -> date:
        """The last business day strictly before `day`."""
        return self.preceding(_as_date(day) - timedelta(days=1))

    def adjust(self, day: date | str, convention: str = "following") -> date | None:
        """Shift a non-business day: following, preceding, modified_following, modified_preceding, or skip
        (None). Modified: stay in the same month (following -> preceding at month end, and vice versa)."""
        day = _as_date(day)
        if convention not in CONVENTIONS:
            raise ValueError(f"unknown convention {convention!r}: use one of {', '.join(CONVENTIONS)}")
        if self.is_business_day(day):
            return day
        if convention == "skip":
            return None
        if convention == "following":
            return self.following(day)
        if convention == "preceding":
            return self.preceding(day)
        if convention == "modified_following":
            moved = self.following(day)
            return moved if moved.month == day.month else self.preceding(day)
        moved = self.preceding(day)
        return moved if moved.month == day.month else self.following(day)

    def offset(self, day: date | str, n: int) -> date:
        """n business days after `day` (n < 0: before). See the module docstring for non-business days."""
        day = _as_date(day)
        if n == 0:
            return self.following(day)
        if abs(n) > 40:
            return self.offset_many([day], n)[0].item()
        step = timedelta(days=1 if n > 0 else -1)
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_business_day(day):
                remaining -= 1
        return day

    add = offset

    # ---------------------------------------------------------------- counting and listing
    def business_days_between(self, start: date | str, end: date | str) -> int:
        """Business days in [start, end); when end < start, minus the business days in [end, start)."""
        import numpy as np

        start, end = _as_date(start), _as_date(end)
        calendar = self._numpy_calendar(min(start, end).year, max(start, end).year)
        if end < start:
            return -int(np.busday_count(end, start, busdaycal=calendar))
        return int(np.busday_count(start, end, busdaycal=calendar))

    def business_days(self, start: date | str, end: date | str) -> list[date]:
        """Business days from `start` to `end`, both inclusive."""
        import numpy as np

        start, end = _as_date(start), _as_date(end)
        if end < start:
            return []
        days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
        mask = np.is_busday(days, busdaycal=self._numpy_calendar(start.year, end.year))
        return days[mask].astype(object).tolist()

    def business_days_of_month(self, year: int, month: int) -> list[date]:
        if not 1 <= month <= 12:
            raise ValueError(f"invalid month {month}: expected 1-12")
        first = date(year, month, 1)
        last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        return self.business_days(first, last)

    def business_days_of_year(self, year: int) -> list[date]:
        return self.business_days(date(year, 1, 1), date(year, 12, 31))

    def nth_business_day(self, year: int, month: int, n: int) -> date:
        """The n-th business day of the month (n >= 1 from the start; n < 0 from the end, -1 = last)."""
        days = self.business_days_of_month(year, month)
        if n == 0 or abs(n) > len(days):
            raise ValueError(
                f"{year}-{month:02d} has {len(days)} business days in calendar {self.name}: "
                f"no business day number {n}"
            )
        return days[n - 1] if n > 0 else days[n]

    def business_day_number(self, day: date | str) -> int | None:
        """Position of a business day in its month (1 = first), None on a non-business day."""
        day = _as_date(day)
        if not self.is_business_day(day):
            return None
        return self.business_days_between(day.replace(day=1), day) + 1

    # ---------------------------------------------------------------- batch (vectorised)
    def _numpy_calendar(self, first_year: int, last_year: int) -> np.busdaycalendar:
        """A numpy busdaycalendar whose holidays cover at least the years [first_year, last_year]."""
        import numpy as np

        calendar = self._np_calendar
        if calendar is not None and self._np_first <= first_year and last_year <= self._np_last:
            return calendar
        with self._lock:
            if self._np_calendar is not None:
                first_year, last_year = min(first_year, self._np_first), max(last_year, self._np_last)
            _check_year(first_year)
            _check_year(last_year)
            closed: list[date] = []
            for year in range(first_year, last_year + 1):
                closed.extend(self._closed_of_year(year))
            if self._open_weekend:
                # weekend days that are open (company calendars): a 7-day week with weekends as holidays
                weekmask = "1111111"
                start = np.datetime64(f"{first_year:04d}-01-01", "D")
                every = np.arange(start, np.datetime64(f"{last_year + 1:04d}-01-01", "D"))
                weekday = (every.astype("int64") - 4) % 7  # 1970-01-01 was a Thursday (3): Monday = 0
                weekend = every[~np.isin(weekday, list(self.weekdays))]
                opened = np.array(sorted(self.extra_open), dtype="datetime64[D]")
                closed_array = np.union1d(
                    np.array(closed, dtype="datetime64[D]"), np.setdiff1d(weekend, opened)
                )
            else:
                weekmask = "".join("1" if i in self.weekdays else "0" for i in range(7))
                closed_array = np.array(sorted(closed), dtype="datetime64[D]")
            calendar = np.busdaycalendar(weekmask=weekmask, holidays=closed_array)
            # day table for O(1) batch lookups: mask[i] = day base+i is a business day, cum[i] = business days
            # in [base, base + i); covers Jan 1 of first_year .. Jan 1 of last_year + 1
            base = np.datetime64(f"{first_year:04d}-01-01", "D")
            every = np.arange(base, np.datetime64(f"{last_year + 1:04d}-01-02", "D"))
            mask = np.is_busday(every, busdaycal=calendar)
            cum = np.zeros(mask.size + 1, dtype="int64")
            np.cumsum(mask, out=cum[1:])
            self._table = (int(base.astype("int64")), mask, cum)
            self._np_calendar = calendar
            self._np_first, self._np_last = first_year, last_year
            return calendar

    def _table_for(self, *day_numbers: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
        """The day table covering all the given day numbers (days since 1970-01-01), extended on demand."""
        import numpy as np

        low = min(int(a.min()) for a in day_numbers)
        high = max(int(a.max()) for a in day_numbers)
        table = self._table
        if table is None or low < table[0] or high >= table[0] + table[1].size:
            if low == np.iinfo("int64").min:
                raise ValueError("missing dates (NaT) are not accepted")
            first = np.datetime64(low, "D").astype(object)
            last = np.datetime64(high, "D").astype(object)
            if not isinstance(first, date) or not isinstance(last, date):
                raise ValueError(f"dates outside the supported years {MIN_YEAR}-{MAX_YEAR}")
            self._numpy_calendar(first.year, last.year)
            table = self._table
        return table

    def _numpy_calendar_for(self, *arrays: np.ndarray, margin_days: int = 0) -> np.busdaycalendar:
        import numpy as np

        lows = [a.min() for a in arrays if a.size]
        highs = [a.max() for a in arrays if a.size]
        if not lows:
            return self._numpy_calendar(2000, 2000) if self._np_calendar is None else self._np_calendar
        low = min(lows) - np.timedelta64(max(-margin_days, 0) + 7, "D")
        high = max(highs) + np.timedelta64(max(margin_days, 0) + 7, "D")
        if np.isnat(low) or np.isnat(high):
            raise ValueError("missing dates (NaT) are not accepted")
        return self._numpy_calendar(low.astype(object).year, high.astype(object).year)

    def is_business_day_many(self, dates) -> np.ndarray:
        """Boolean array: which of `dates` are business days."""
        import numpy as np

        numbers = as_datetime64(dates).astype("int64")
        if numbers.size == 0:
            return np.zeros(numbers.shape, dtype=bool)
        base, mask, _ = self._table_for(numbers)
        return mask[numbers - base]

    def business_days_between_many(self, starts, ends) -> np.ndarray:
        """Element-wise `business_days_between` (half-open [start, end)) as an int64 array."""
        import numpy as np

        start_numbers = as_datetime64(starts).astype("int64")
        end_numbers = as_datetime64(ends).astype("int64")
        if start_numbers.shape != end_numbers.shape:
            start_numbers, end_numbers = np.broadcast_arrays(start_numbers, end_numbers)
        if start_numbers.size == 0:
            return np.zeros(start_numbers.shape, dtype="int64")
        base, _, cum = self._table_for(start_numbers, end_numbers)
        return cum[end_numbers - base] - cum[start_numbers - base]

    def offset_many(self, dates, n) -> np.ndarray:
        """Element-wise `offset` (n scalar or array) as a datetime64[D] array."""
        import numpy as np

        days = as_datetime64(dates)
        steps = np.asarray(n, dtype="int64")
        if steps.size == 0 or days.size == 0:
            return days.copy()
        # 1.5 calendar days per business day is more than any year of these calendars needs; checked below
        self._numpy_calendar_for(days, margin_days=int(steps.max()) * 3 // 2 + 31)
        self._numpy_calendar_for(days, margin_days=int(steps.min()) * 3 // 2 - 31)
        while True:
            calendar = self._np_calendar
            # n > 0: roll back first (n-th strictly after); n < 0: roll forward; n == 0: following
            forward = np.busday_offset(
                days, np.where(steps > 0, steps, 0), roll="preceding", busdaycal=calendar
            )
            backward = np.busday_offset(
                days, np.where(steps < 0, steps, 0), roll="following", busdaycal=calendar
            )
            following = np.busday_offset(days, 0, roll="following", busdaycal=calendar)
            result = np.where(steps > 0, forward, np.where(steps < 0, backward, following))
            first, last = result.min().astype(object).year, result.max().astype(object).year
            if self._np_first <= first and last <= self._np_last:
                return result
            self._numpy_calendar(first, last)  # extend and recompute

    def adjust_many(self, dates, convention: str = "following") -> np.ndarray:
        """Element-wise `adjust` (skip -> NaT) as a datetime64[D] array."""
        import numpy as np

        if convention not in CONVENTIONS:
            raise ValueError(f"unknown convention {convention!r}: use one of {', '.join(CONVENTIONS)}")
        days = as_datetime64(dates)
        self._numpy_calendar_for(days, margin_days=40)
        self._numpy_calendar_for(days, margin_days=-40)
        calendar = self._np_calendar
        if convention == "skip":
            return np.where(np.is_busday(days, busdaycal=calendar), days, np.datetime64("NaT"))
        roll = {"following": "following", "preceding": "preceding"}.get(
            convention, convention.replace("_", "")
        )
        return np.busday_offset(days, 0, roll=roll, busdaycal=calendar)

    def in_group_many(self, dates, group: DayGroup | str) -> np.ndarray:
        import numpy as np

        days = as_datetime64(dates)
        group = DayGroup(group)
        if group is DayGroup.EVERY_DAY:
            return np.ones(days.shape, dtype=bool)
        if group is DayGroup.BUSINESS_DAYS:
            return self.is_business_day_many(days)
        if group is DayGroup.NON_BUSINESS_DAYS:
            return ~self.is_business_day_many(days)
        if group is DayGroup.WEEKENDS:
            weekday = (days.astype("int64") - 4) % 7
            return ~np.isin(weekday, list(self.weekdays))
        return np.array([self.holiday_name(d) is not None for d in days.astype(object).ravel()]).reshape(
            days.shape
        )
