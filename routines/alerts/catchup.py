"""Self-healing catch-up (pure): which missing business-day partitions of an asset to request now.

A day is requested when it is one of the last `lookback` business days of the calendar, its data can exist
(its deadline is past; without a deadline, the day is over), its partition exists, and it is neither
materialized, nor being materialized (a queued or started run), nor failed (its latest attempt failed after
Dagster's own retries: a bad input will not get better, so someone must act; it is alerted instead).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from routines.alerts.deadlines import TIMEZONE, Deadline, daily_due


@dataclass
class CatchUpDecision:
    request: list[str] = field(default_factory=list)  # oldest first
    running: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # missing, latest attempt failed: alert, don't request
    not_yet: list[str] = field(default_factory=list)  # in the lookback, data cannot exist yet


def lookback_days(calendar, now: datetime, lookback: int) -> list[str]:
    """The last `lookback` business days up to today (inclusive), oldest first."""
    today = now.astimezone(TIMEZONE).date()
    last = calendar.preceding(today)
    first = calendar.offset(last, -(lookback - 1)) if lookback > 1 else last
    return [day.isoformat() for day in calendar.business_days(first, last)]


def decide(
    calendar,
    now: datetime,
    lookback: int,
    materialized: Collection[str],
    running: Collection[str] = (),
    failed: Collection[str] = (),
    deadline: Deadline | None = None,
    first_partition: str | None = None,
    limit: int | None = None,
) -> CatchUpDecision:
    now = now.astimezone(TIMEZONE)
    decision = CatchUpDecision()
    for key in lookback_days(calendar, now, lookback):
        if key in materialized or (first_partition is not None and key < first_partition):
            continue
        day = datetime.fromisoformat(key).date()
        ready_at = (
            daily_due(deadline, calendar, day)
            if deadline is not None and deadline.kind == "daily"
            else datetime.combine(day + timedelta(days=1), time(0), tzinfo=TIMEZONE)
        )
        if now < ready_at:
            decision.not_yet.append(key)
        elif key in running:
            decision.running.append(key)
        elif key in failed:
            decision.failed.append(key)
        else:
            decision.request.append(key)
    if limit is not None:
        decision.request = decision.request[:limit]
    return decision
