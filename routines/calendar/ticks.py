"""Pure decisions behind the business-day schedules (no Dagster): does a tick run, and for which day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from routines.calendar.core import Calendar


@dataclass(frozen=True)
class TickDecision:
    run_day: date | None  # the business day the run is for (partition), None = skip
    skip_reason: str | None = None


def business_day_tick(calendar: Calendar, day: date, business_days_late: int = 0) -> TickDecision:
    """Daily routine: run on business days only, for the business day `business_days_late` before (D+N)."""
    if business_days_late < 0:
        raise ValueError("business_days_late must be >= 0")
    reason = calendar.closed_reason(day)
    if reason is not None:
        return TickDecision(None, f"{day:%d/%m/%Y} não é dia útil no calendário {calendar.name}: {reason}")
    run_day = calendar.offset(day, -business_days_late) if business_days_late else day
    return TickDecision(run_day)


def describe_nth(nth: int) -> str:
    if nth == -1:
        return "último dia útil"
    if nth < 0:
        return f"{-nth}º dia útil antes do fim"
    return f"{nth}º dia útil"


def monthly_tick(calendar: Calendar, day: date, nth: int) -> TickDecision:
    """Monthly routine on the nth business day of the month (nth < 0 counts from the end, -1 = last)."""
    if nth == 0:
        raise ValueError("nth must be >= 1 or <= -1")
    try:
        target = calendar.nth_business_day(day.year, day.month, nth)
    except ValueError:
        return TickDecision(None, f"{day:%m/%Y} não tem o {describe_nth(nth)} no calendário {calendar.name}")
    if target == day:
        return TickDecision(day)
    reason = calendar.closed_reason(day)
    why = f" ({reason})" if reason else ""
    return TickDecision(
        None,
        f"{day:%d/%m/%Y}{why} não é o {describe_nth(nth)} do mês no calendário {calendar.name}: "
        f"o {describe_nth(nth)} de {day:%m/%Y} é {target:%d/%m/%Y}",
    )
