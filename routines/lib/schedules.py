"""Schedules that run on business days (thin Dagster glue over `routines.calendar.ticks`).

`build_schedule_from_partitioned_job` ignores partition exclusions when the job's partitions are inferred
from its assets, so these builders tick every day at a local time (America/Sao_Paulo) and decide with the
calendar: on a non-business day the tick is skipped with a `SkipReason` naming the holiday (or
"sábado"/"domingo").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from routines.calendar.ticks import business_day_tick, describe_nth, monthly_tick
from routines.lib.partitions import TIMEZONE


def _tick_day(context: dg.ScheduleEvaluationContext) -> date:
    moment = context.scheduled_execution_time or datetime.now(ZoneInfo(TIMEZONE))
    return moment.astimezone(ZoneInfo(TIMEZONE)).date()


def _check_time(hour: int, minute: int) -> None:
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"invalid time {hour}:{minute}")


def _daily_schedule(name, target, hour, minute, description, default_status, execution_fn):
    """A schedule ticking every day at hour:minute São Paulo time; `execution_fn` decides with the calendar."""
    return dg.schedule(
        name=name,
        cron_schedule=f"{minute} {hour} * * *",
        execution_timezone=TIMEZONE,
        target=target,
        description=description,
        default_status=default_status,
    )(execution_fn)


def business_day_schedule(
    *,
    name: str,
    target,
    calendar_name: str,
    hour: int,
    minute: int = 0,
    business_days_late: int = 0,
    partitions_def: dg.PartitionsDefinition | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED,
    asset_selection: Sequence[dg.AssetKey] | None = None,
) -> dg.ScheduleDefinition:
    """Run `target` (asset selection, assets or job) at hour:minute on each business day of `calendar_name`
    (`asset_selection`: only those assets of the job).

    The run is for the business day `business_days_late` business days before the tick (D+N, for data
    published late): with `partitions_def` it requests that partition ("YYYY-MM-DD"); without, the day goes
    in the run tags `routines/business_day`. Non-business days are skipped with the holiday's name. A
    same-day run (N = 0) on time-window partitions needs partitions built with ``include_current_day=True``.
    """
    _check_time(hour, minute)
    if business_days_late < 0:
        raise ValueError("business_days_late must be >= 0")
    if (
        business_days_late == 0
        and isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)
        and partitions_def.end_offset < 1
    ):
        raise ValueError(
            f"schedule {name}: a same-day run (business_days_late=0) asks for the partition of the tick's own "
            "day, which Dagster only creates when that day is over; build the partitions with "
            "business_day_partitions(..., include_current_day=True) or use business_days_late=1"
        )

    def execution_fn(context):
        from routines.calendar.registry import get_calendar

        decision = business_day_tick(get_calendar(calendar_name), _tick_day(context), business_days_late)
        if decision.run_day is None:
            return dg.SkipReason(decision.skip_reason)
        key = decision.run_day.isoformat()
        run_tags = {**(tags or {}), "routines/calendar": calendar_name, "routines/business_day": key}
        return dg.RunRequest(
            run_key=key,
            partition_key=key if partitions_def is not None else None,
            tags=run_tags,
            asset_selection=asset_selection,
        )

    late = f" (D+{business_days_late} dias úteis)" if business_days_late else ""
    description = description or f"Dias úteis do calendário {calendar_name} às {hour:02d}:{minute:02d}{late}"
    return _daily_schedule(name, target, hour, minute, description, default_status, execution_fn)


def monthly_business_day_schedule(
    *,
    name: str,
    target,
    calendar_name: str,
    nth: int,
    hour: int,
    minute: int = 0,
    partitions_def: dg.PartitionsDefinition | None = None,
    partition_key_fn: Callable[[date], str] | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED,
    asset_selection: Sequence[dg.AssetKey] | None = None,
) -> dg.ScheduleDefinition:
    """Run `target` at hour:minute on the `nth` business day of each month (nth < 0 from the end, -1 = last).

    Partition: `partition_key_fn(day)` if given; else with `partitions_def` its last complete partition at
    the tick (for monthly partitions: the previous month); else none (the day goes in the tag
    `routines/business_day`).
    """
    _check_time(hour, minute)
    if nth == 0:
        raise ValueError("nth must be >= 1 (from the start) or <= -1 (from the end)")

    def execution_fn(context):
        from routines.calendar.registry import get_calendar

        day = _tick_day(context)
        decision = monthly_tick(get_calendar(calendar_name), day, nth)
        if decision.run_day is None:
            return dg.SkipReason(decision.skip_reason)
        key: str | None = None
        if partition_key_fn is not None:
            key = partition_key_fn(day)
        elif partitions_def is not None:
            moment = context.scheduled_execution_time or datetime.now(ZoneInfo(TIMEZONE))
            with dg.partition_loading_context(effective_dt=moment):
                key = partitions_def.get_last_partition_key()
        run_tags = {
            **(tags or {}),
            "routines/calendar": calendar_name,
            "routines/business_day": day.isoformat(),
        }
        return dg.RunRequest(
            run_key=day.isoformat(), partition_key=key, tags=run_tags, asset_selection=asset_selection
        )

    description = description or (
        f"{describe_nth(nth).capitalize()} do mês (calendário {calendar_name}) às {hour:02d}:{minute:02d}"
    )
    return _daily_schedule(name, target, hour, minute, description, default_status, execution_fn)


def cron_job_schedule(
    *,
    name: str,
    job,
    cron: str,
    description: str,
    default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.RUNNING,
) -> dg.ScheduleDefinition:
    """Run `job` on a cron (São Paulo time), one run per tick: run key = the tick's scheduled time."""

    @dg.schedule(
        name=name,
        cron_schedule=cron,
        execution_timezone=TIMEZONE,
        job=job,
        default_status=default_status,
        description=description,
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        moment = context.scheduled_execution_time
        return dg.RunRequest(run_key=moment.isoformat() if moment else None)

    return _schedule
