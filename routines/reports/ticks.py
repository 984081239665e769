"""The core of the report schedule sensor, as a database function of an explicit `now` (no Dagster).

One tick, in one transaction:
1. due definitions only (`active AND next_run_at <= now`, indexed, at most `tick_batch_size`): every fire
   time from next_run_at up to now gets an execution row keyed by a deterministic run key; the latest
   `catch_up_limit` are `pending` (to run), older ones `missed`; next_run_at moves to the next fire time;
2. run-now requests from the business application (`report_run_requests`, status pending) become `manual`
   executions (a disabled report's request is rejected and its execution recorded as failed);
3. every `pending` execution of the last `pending_window_hours` is returned as a run to request.

Restart safety: the rows are committed before Dagster gets the run requests, and step 3 returns pending rows
again on the next tick with the same run key, which Dagster deduplicates: a crash between the commit and the
run launch neither skips nor doubles a report. Executions still pending after the window are failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from routines.database.engine import session_scope
from routines.errors import UserError
from routines.reports.config import ReportsConfig
from routines.reports.models import ReportDefinition, ReportExecution, ReportRunRequest
from routines.reports.schedule import Scheduler, ScheduleSpec, partition_day, validate_schedule
from routines.reports.service import request_run_key, schedule_run_key

MAX_FIRE_TIMES_SCANNED = 10_000


def _invalid_schedule(definition: ReportDefinition, exc: Exception, now: datetime) -> ReportExecution:
    """A failed execution saying why the schedule cannot run; one per distinct schedule (deterministic key)."""
    spec = ScheduleSpec.of(definition)
    digest = hashlib.sha1(repr(spec).encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
    message = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
    return ReportExecution(
        report_id=definition.id, run_key=f"report-{definition.id}-invalid-{digest}", scheduled_for=now,
        partition_day=partition_day(now), trigger="schedule", status="failed", requested_at=now, finished_at=now,
        truncated=False, error=f"invalid schedule, report not scheduled: {message}",
    )  # fmt: skip  # per definition per tick: beyond this the backlog is skipped to now


@dataclass(frozen=True)
class PlannedRun:
    run_key: str
    report_id: int
    partition_day: str
    scheduled_for: datetime
    trigger: str
    execution_id: int


@dataclass
class TickPlan:
    runs: list[PlannedRun] = field(default_factory=list)
    due_definitions: int = 0
    scheduled: int = 0
    missed: int = 0
    requests_accepted: int = 0
    requests_rejected: int = 0
    expired: int = 0
    initialized: int = 0
    invalid: int = 0
    more_due: bool = False

    def summary(self) -> str:
        return (
            f"{self.due_definitions} due definitions, {self.scheduled} scheduled, {self.missed} missed, "
            f"{self.requests_accepted} run-now accepted, {self.requests_rejected} rejected, "
            f"{len(self.runs)} runs requested, {self.initialized} newly scheduled, {self.invalid} invalid schedules"
            + (" (more due: next tick)" if self.more_due else "")
        )


def plan_tick(
    engine: Engine,
    now: datetime,
    config: ReportsConfig | None = None,
    calendar_lookup: Callable | None = None,
) -> TickPlan:
    config = config or ReportsConfig.from_env()
    plan = TickPlan()
    with session_scope(engine) as session:
        invalid_rows: list[ReportExecution] = []
        # Definitions written by the business application without next_run_at (new, or schedule edited and
        # next_run_at cleared): schedule them from now. Invalid schedules are recorded once, not run.
        fresh = session.scalars(
            select(ReportDefinition)
            .where(ReportDefinition.active.is_(True), ReportDefinition.next_run_at.is_(None))
            .order_by(ReportDefinition.id)
            .limit(config.tick_batch_size)
        )
        for definition in fresh:
            try:
                spec = ScheduleSpec.of(definition)
                validate_schedule(spec, calendar_lookup, definition.name)
                definition.next_run_at = Scheduler(spec, calendar_lookup).next_after(now)
                if definition.next_run_at is None:
                    raise UserError(f"report {definition.name!r}, field cron: the schedule never fires")
                plan.initialized += 1
            except Exception as exc:  # noqa: BLE001 - any schedule problem is recorded on the report
                invalid_rows.append(_invalid_schedule(definition, exc, now))
        due = list(
            session.scalars(
                select(ReportDefinition)
                .where(ReportDefinition.active.is_(True), ReportDefinition.next_run_at <= now)
                .order_by(ReportDefinition.next_run_at, ReportDefinition.id)
                .limit(config.tick_batch_size + 1)
            )
        )
        plan.more_due = len(due) > config.tick_batch_size
        due = due[: config.tick_batch_size]
        plan.due_definitions = len(due)
        new_rows: list[ReportExecution] = []
        for definition in due:
            fire_times: list[datetime] = []
            fire = definition.next_run_at
            try:
                scheduler = Scheduler(ScheduleSpec.of(definition), calendar_lookup)
                while fire is not None and fire <= now and len(fire_times) < MAX_FIRE_TIMES_SCANNED:
                    fire_times.append(fire)
                    fire = scheduler.next_after(fire)
                if fire is not None and fire <= now:  # an enormous backlog: skip the rest
                    fire = scheduler.next_after(now)
            except Exception as exc:  # noqa: BLE001 - e.g. calendar removed, cron edited by hand
                invalid_rows.append(_invalid_schedule(definition, exc, now))
                definition.next_run_at = None
                continue
            limit = config.catch_up_limit
            to_run = fire_times[-limit:] if limit else []
            missed = fire_times[: len(fire_times) - len(to_run)]
            for scheduled_for in missed:
                new_rows.append(
                    ReportExecution(
                        report_id=definition.id, run_key=schedule_run_key(definition.id, scheduled_for),
                        scheduled_for=scheduled_for, partition_day=partition_day(scheduled_for), trigger="schedule",
                        status="missed", requested_at=now, finished_at=now, truncated=False,
                        error=(f"não executado: agendamento perdido enquanto o agendador estava parado "
                               f"(mais antigo que o limite de recuperação de {limit})"),
                    )
                )  # fmt: skip
            for scheduled_for in to_run:
                new_rows.append(
                    ReportExecution(
                        report_id=definition.id, run_key=schedule_run_key(definition.id, scheduled_for),
                        scheduled_for=scheduled_for, partition_day=partition_day(scheduled_for), trigger="schedule",
                        status="pending", requested_at=now, truncated=False,
                    )
                )  # fmt: skip
            plan.missed += len(missed)
            plan.scheduled += len(to_run)
            definition.next_run_at = fire
        new_rows.extend(invalid_rows)
        plan.invalid = len(invalid_rows)
        if new_rows:
            keys = [row.run_key for row in new_rows]
            existing: set[str] = set()
            for start in range(0, len(keys), 500):
                existing.update(
                    session.scalars(
                        select(ReportExecution.run_key).where(
                            ReportExecution.run_key.in_(keys[start : start + 500])
                        )
                    )
                )
            session.add_all(row for row in new_rows if row.run_key not in existing)

        requests = list(
            session.scalars(
                select(ReportRunRequest)
                .where(ReportRunRequest.status == "pending")
                .order_by(ReportRunRequest.id)
                .limit(config.tick_batch_size)
            )
        )
        for request in requests:
            definition = session.get(ReportDefinition, request.report_id)
            requested_at = request.requested_at or now
            execution = ReportExecution(
                report_id=request.report_id, run_key=request_run_key(request.report_id, request.id),
                scheduled_for=requested_at, partition_day=partition_day(requested_at), trigger="manual",
                status="pending", requested_at=now, truncated=False, run_request_id=request.id,
            )  # fmt: skip
            request.processed_at = now
            if not definition.active:
                message = (
                    f"report {definition.id} {definition.name!r} is disabled: enable it with "
                    f"`routines reports enable {definition.id}`"
                )
                execution.status, execution.error, execution.finished_at = "failed", message, now
                request.status, request.error = "rejected", message
                plan.requests_rejected += 1
            else:
                request.status = "accepted"
                plan.requests_accepted += 1
            session.add(execution)
            session.flush()
            request.execution_id = execution.id
        session.flush()

        window_start = now - timedelta(hours=config.pending_window_hours)
        pending = session.scalars(
            select(ReportExecution).where(ReportExecution.status == "pending").order_by(ReportExecution.id)
        )
        for execution in pending:
            if execution.requested_at < window_start:
                execution.status, execution.finished_at = "failed", now
                execution.error = f"no run started within {config.pending_window_hours} h of the request"
                plan.expired += 1
                continue
            plan.runs.append(
                PlannedRun(
                    run_key=execution.run_key, report_id=execution.report_id, partition_day=execution.partition_day,
                    scheduled_for=execution.scheduled_for, trigger=execution.trigger, execution_id=execution.id,
                )
            )  # fmt: skip
    return plan
