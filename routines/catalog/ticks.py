"""Pure schedule decisions of catalog routines (no Dagster): is this tick due, for which day, or why not.

`daily` and `monthly` use `routines.calendar.ticks`; here: `cron` + day group, and `cyclic` slots. Times are
local (America/Sao_Paulo); reasons are in pt-BR, as the UI shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from routines.calendar.core import Calendar, DayGroup
from routines.calendar.ticks import TickDecision, business_day_tick, monthly_tick
from routines.catalog.schema import CyclicSchedule, parse_hhmm

__all__ = [
    "TickDecision",
    "business_day_tick",
    "monthly_tick",
    "day_group_tick",
    "cyclic_tick",
    "SlotDecision",
]


def _why_not(calendar: Calendar, day: date, group: DayGroup) -> str:
    reason = calendar.closed_reason(day)
    if group is DayGroup.BUSINESS_DAYS:
        return f"{day:%d/%m/%Y} não é dia útil no calendário {calendar.name}: {reason}"
    what = f"dia útil no calendário {calendar.name}" if reason is None else reason
    return f"{day:%d/%m/%Y} ({what}) não pertence ao grupo {group.label} do calendário {calendar.name}"


def day_group_tick(calendar: Calendar, day: date, group: str) -> TickDecision:
    """`cron` routines: the cron proposed `day`; the day group decides."""
    group = DayGroup(group)
    if calendar.in_group(day, group):
        return TickDecision(day)
    return TickDecision(None, _why_not(calendar, day, group))


@dataclass(frozen=True)
class SlotDecision:
    slot: datetime | None  # the slot's local time (run key), None = skip
    skip_reason: str | None = None


def cyclic_cron(schedule: CyclicSchedule) -> str:
    """A cron that ticks at least at every slot (the tick decides which ticks are slots)."""
    from math import gcd

    start, end = parse_hhmm(schedule.start), parse_hhmm(schedule.end)
    step = gcd(schedule.every_minutes, 60)
    offset = start.minute % step
    minutes = f"{offset}-59/{step}" if step > 1 else "*"
    hours = f"{start.hour}-{end.hour}" if end.hour != start.hour else str(start.hour)
    return f"{minutes} {hours} * * *"


def cyclic_tick(calendar: Calendar, moment: datetime, schedule: CyclicSchedule) -> SlotDecision:
    """`cyclic` routines: `moment` (local, naive or aware) is a slot when it falls on a day of the group,
    between start and end, on the `every_minutes` grid counted from start."""
    moment = moment.replace(second=0, microsecond=0)
    day = moment.date()
    group = DayGroup(schedule.day_group)
    if not calendar.in_group(day, group):
        return SlotDecision(None, _why_not(calendar, day, group))
    start = datetime.combine(day, parse_hhmm(schedule.start), moment.tzinfo)
    end = datetime.combine(day, parse_hhmm(schedule.end), moment.tzinfo)
    if moment < start or moment > end:
        return SlotDecision(
            None, f"{moment:%H:%M} fora da janela {schedule.start}-{schedule.end} de {day:%d/%m/%Y}"
        )
    minutes = int((moment - start) / timedelta(minutes=1))
    if minutes % schedule.every_minutes:
        return SlotDecision(None, f"{moment:%H:%M} não é um horário do ciclo de {schedule.every_minutes} min")
    return SlotDecision(moment)
