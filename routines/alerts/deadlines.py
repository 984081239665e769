"""Business-day deadlines (pure): "the partition of business day D of calendar C is materialized by HH:MM of
D + N business days", and its monthly and refresh variants.

Declared on an asset as the metadata key `routines/deadline`, a JSON object:

- `{"calendar": "B3", "time": "20:00", "business_days_after": 0}` (kind `daily`, the default): daily partitions
  keyed by business day D ("YYYY-MM-DD"); due at `time` of `offset(D, business_days_after)`.
- `{"kind": "monthly", "calendar": "ANBIMA", "time": "12:00", "business_day": 5, "month_offset": 1}`: monthly
  partitions ("YYYY-MM-01", month M); due at `time` of the `business_day`-th business day of month
  M + `month_offset`.
- `{"kind": "refresh", "calendar": "ANBIMA", "time": "10:00", "partitions": "open_months"}`: on every business day
  D, the open monthly partitions (previous and current month of D) are materialized again on D by `time`.

`warn_minutes` (default 60): before the deadline, a partition still missing is a warning. Nothing is expected on
a day the calendar closes, and the due day moves with the calendar (a D+1 deadline after Carnival 2025 falls on
Ash Wednesday).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TIMEZONE = ZoneInfo("America/Sao_Paulo")
METADATA_KEY = "routines/deadline"
CATCH_UP_TAG = "routines/catch_up_lookback"
CHECK_NAME = "deadline"
KINDS = ("daily", "monthly", "refresh")
PASSED, WARN, FAILED, PENDING = "passed", "warn", "failed", "pending"


class DeadlineError(ValueError):
    """A `routines/deadline` declaration that cannot be read; the message names the asset and the field."""


@dataclass(frozen=True)
class Deadline:
    calendar: str
    time: time
    business_days_after: int = 0
    kind: str = "daily"
    business_day: int = 1  # monthly: the Nth business day of the month (negative: from the end)
    month_offset: int = 0  # monthly: the due month is the partition's month + month_offset
    warn_minutes: int = 60

    @classmethod
    def parse(cls, value: object, where: str = "asset") -> Deadline:
        """From the metadata value (a dict, a JSON string or a Dagster JsonMetadataValue)."""
        raw = getattr(value, "data", None) if hasattr(value, "data") else value
        raw = getattr(raw, "value", raw) if not isinstance(raw, (dict, str)) else raw
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DeadlineError(f"{where}: {METADATA_KEY} is not JSON: {exc}") from None
        if not isinstance(raw, Mapping):
            raise DeadlineError(f"{where}: {METADATA_KEY} must be a JSON object, got {raw!r}")
        kind = str(raw.get("kind", "daily"))
        if kind not in KINDS:
            raise DeadlineError(f"{where}: {METADATA_KEY}.kind {kind!r}: expected one of {', '.join(KINDS)}")
        calendar = str(raw.get("calendar", "")).strip()
        if not calendar:
            raise DeadlineError(f'{where}: {METADATA_KEY}.calendar is missing (e.g. "B3")')
        text = str(raw.get("time", ""))
        try:
            hour, minute = (int(part) for part in text.split(":"))
            at = time(hour, minute)
        except ValueError:
            raise DeadlineError(f"{where}: {METADATA_KEY}.time {text!r}: expected HH:MM") from None
        try:
            after = int(raw.get("business_days_after", 0))
            nth = int(raw.get("business_day", 1))
            month_offset = int(raw.get("month_offset", 0))
            warn = int(raw.get("warn_minutes", 60))
        except (TypeError, ValueError) as exc:
            raise DeadlineError(f"{where}: {METADATA_KEY}: {exc}") from None
        if after < 0 or warn < 0 or nth == 0:
            raise DeadlineError(
                f"{where}: {METADATA_KEY}: business_days_after/warn_minutes >= 0, business_day != 0"
            )
        return cls(calendar, at, after, kind, nth, month_offset, warn)

    def as_metadata(self) -> dict[str, object]:
        data: dict[str, object] = {"calendar": self.calendar, "time": f"{self.time:%H:%M}"}
        if self.kind == "daily":
            data["business_days_after"] = self.business_days_after
        else:
            data["kind"] = self.kind
        if self.kind == "monthly":
            data.update(business_day=self.business_day, month_offset=self.month_offset)
        if self.kind == "refresh":
            data["partitions"] = "open_months"
        if self.warn_minutes != 60:
            data["warn_minutes"] = self.warn_minutes
        return data

    def describe(self) -> str:
        """pt-BR, e.g. "até 20:00 de D+0 útil (calendário B3)"."""
        at = f"{self.time:%H:%M}"
        if self.kind == "monthly":
            month = {0: "do mês", 1: "do mês seguinte"}.get(self.month_offset, f"do mês +{self.month_offset}")
            nth = f"{self.business_day}º" if self.business_day > 0 else f"{-self.business_day}º último"
            return f"até {at} do {nth} dia útil {month} (calendário {self.calendar})"
        if self.kind == "refresh":
            return f"meses abertos atualizados até {at} de cada dia útil (calendário {self.calendar})"
        return f"até {at} de D+{self.business_days_after} dia útil (calendário {self.calendar})"


@dataclass(frozen=True)
class Expectation:
    """One thing a deadline expects: these partitions materialized (after `since`, if set) by `due`."""

    label: str  # the partition (or, for refresh, "partition@day")
    partitions: tuple[str, ...]
    due: datetime
    since: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    expectation: Expectation
    status: str  # passed | warn | failed | pending
    late_by: timedelta | None = None  # failed: how late it is now


@dataclass(frozen=True)
class Evaluation:
    status: str  # passed | warn | failed (of the asset as a whole)
    outcomes: tuple[Outcome, ...]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    @property
    def warned(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == WARN]


def _at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=TIMEZONE)


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def open_months(day: date) -> tuple[str, str]:
    first = day.replace(day=1)
    return (_add_months(first, -1).isoformat(), first.isoformat())


def daily_due(deadline: Deadline, calendar, day: date) -> datetime:
    return _at(calendar.offset(day, deadline.business_days_after), deadline.time)


def expectations(
    deadline: Deadline, calendar, now: datetime, lookback: int = 5, first_partition: str | None = None
) -> list[Expectation]:
    """What the deadline expects in the last `lookback` periods whose deadline is due by `now` plus the warning
    window (business days for daily/refresh, months for monthly), oldest first. Partitions before
    `first_partition` (the partitions definition's start) are not expected."""
    now = now.astimezone(TIMEZONE)
    horizon = now + timedelta(minutes=deadline.warn_minutes)
    today = now.date()
    found: list[Expectation] = []
    if deadline.kind == "monthly":
        month = _add_months(today.replace(day=1), -deadline.month_offset + 1)
        for _ in range(lookback + deadline.month_offset + 2):
            due_month = _add_months(month, deadline.month_offset)
            due_day = calendar.nth_business_day(due_month.year, due_month.month, deadline.business_day)
            due = _at(due_day, deadline.time)
            if due <= horizon:
                found.append(Expectation(month.isoformat(), (month.isoformat(),), due))
                if len(found) == lookback:
                    break
            month = _add_months(month, -1)
    else:
        after = deadline.business_days_after if deadline.kind == "daily" else 0
        day = calendar.preceding(today)  # the latest business day <= today
        # walk back over business days; the latest ones may still be due after the horizon
        for _ in range(lookback + after + 3):
            if deadline.kind == "daily":
                due = daily_due(deadline, calendar, day)
                expectation = Expectation(day.isoformat(), (day.isoformat(),), due)
            else:
                due = _at(day, deadline.time)
                expectation = Expectation(day.isoformat(), open_months(day), due, since=_at(day, time(0, 0)))
            if due <= horizon:
                found.append(expectation)
                if len(found) == lookback:
                    break
            day = calendar.offset(day, -1)
    if first_partition is not None:
        found = [e for e in found if all(p >= first_partition for p in e.partitions)]
    return sorted(found, key=lambda e: e.due)


def evaluate(
    deadline: Deadline,
    calendar,
    now: datetime,
    materialized: Mapping[str, datetime],
    lookback: int = 5,
    first_partition: str | None = None,
) -> Evaluation:
    """`materialized`: partition key -> time of its latest materialization (aware)."""
    now = now.astimezone(TIMEZONE)
    outcomes = []
    for expectation in expectations(deadline, calendar, now, lookback, first_partition):
        done = all(
            key in materialized and (expectation.since is None or materialized[key] >= expectation.since)
            for key in expectation.partitions
        )
        if done:
            outcomes.append(Outcome(expectation, PASSED))
        elif now >= expectation.due:
            outcomes.append(Outcome(expectation, FAILED, now - expectation.due))
        else:
            outcomes.append(Outcome(expectation, WARN))
    statuses = {o.status for o in outcomes}
    status = FAILED if FAILED in statuses else WARN if WARN in statuses else PASSED
    return Evaluation(status, tuple(outcomes))


def partitions_to_fetch(deadline: Deadline, calendar, now: datetime, lookback: int = 5) -> list[str]:
    """The partition keys an evaluation reads (to fetch only those materializations)."""
    keys = {key for e in expectations(deadline, calendar, now, lookback) for key in e.partitions}
    return sorted(keys)
