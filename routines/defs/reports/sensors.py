"""The report schedule sensor: thin glue over `routines.reports.ticks.plan_tick`."""

from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg

from routines.defs.reports.assets import reports_job
from routines.defs.reports.partitions import (
    REPORT_PARTITIONS_NAME,
    RUN_KEY_TAG,
    TRIGGER_TAG,
    partition_key,
    report_partitions,
)
from routines.lib.resources import DatabaseResource


def build_report_schedule_sensor(
    job,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    calendar_lookup: Callable | None = None,
    name: str = "report_schedule_sensor",
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """`clock` gives the tick's "now" (tests pass explicit times)."""

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=30,
        default_status=default_status,
        description=(
            "Each tick: due report definitions (active, next_run_at <= now) and run-now requests become "
            "execution rows and one run per (report, scheduled time), run key report-<id>-<UTC time>."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
        from sqlalchemy import select
        from sqlalchemy.exc import OperationalError, ProgrammingError

        from routines.reports.config import ReportsConfig
        from routines.reports.models import ReportDefinition
        from routines.reports.ticks import plan_tick

        now = clock()
        engine = database.get_engine()
        try:
            plan = plan_tick(engine, now, ReportsConfig.from_env(), calendar_lookup)
        except (OperationalError, ProgrammingError) as exc:
            if "report_definitions" not in str(exc):
                raise
            return dg.SkipReason("report tables missing in the business database: run `routines db upgrade`")

        with engine.connect() as connection:
            defined = {str(i) for i in connection.scalars(select(ReportDefinition.id))}
        known = set(context.instance.get_dynamic_partitions(REPORT_PARTITIONS_NAME))
        missing = sorted(defined - known, key=int)
        partition_requests = [report_partitions.build_add_request(missing)] if missing else []

        run_requests = [
            dg.RunRequest(
                run_key=run.run_key,
                partition_key=partition_key(run.report_id, run.partition_day),
                tags={RUN_KEY_TAG: run.run_key, TRIGGER_TAG: run.trigger},
            )
            for run in plan.runs
        ]
        context.log.info(plan.summary())
        return dg.SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=partition_requests,
            cursor=now.isoformat(),
        )

    return _sensor


report_schedule_sensor = build_report_schedule_sensor(reports_job)
