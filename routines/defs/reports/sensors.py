"""The report sensors: thin glue over `routines.reports.ticks.plan_tick` (schedule and run-now) and
`routines.reports.service.fail_stale_executions` (executions left `running` by a dead worker)."""

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


def _wait_settings(engine, report_ids: set[int]) -> dict:
    """Wait-for-data settings of these reports (only those that name assets)."""
    if not report_ids:
        return {}
    from sqlalchemy import select

    from routines.database.engine import session_scope
    from routines.reports.models import ReportDefinition

    with session_scope(engine) as session:
        rows = session.execute(
            select(
                ReportDefinition.id, ReportDefinition.wait_for_assets, ReportDefinition.wait_limit_minutes,
                ReportDefinition.wait_action,
            ).where(ReportDefinition.id.in_(sorted(report_ids)))
        ).all()  # fmt: skip
    return {row.id: row for row in rows if row.wait_for_assets}


def _skip_execution(engine, execution_id: int, reason: str, now: datetime) -> None:
    from sqlalchemy import update

    from routines.database.engine import session_scope
    from routines.reports.models import ReportExecution

    with session_scope(engine) as session:
        session.execute(
            update(ReportExecution)
            .where(ReportExecution.id == execution_id, ReportExecution.status == "pending")
            .values(status="skipped", error=reason, finished_at=now)
        )


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
            "Cada tick: definições de relatório devidas (ativas, next_run_at <= agora) e pedidos de 'executar "
            "agora' viram execuções e uma run por (relatório, horário), run key report-<id>-<hora UTC>; as "
            "partições 'report' (BEG-resumo-diario) acompanham as definições ativas."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
        from sqlalchemy.exc import OperationalError, ProgrammingError

        from routines.database.engine import session_scope
        from routines.notifications.service import COMPANY_TAG
        from routines.reports.config import ReportsConfig
        from routines.reports.service import active_partition_keys, assign_missing_slugs
        from routines.reports.ticks import plan_tick

        now = clock()
        engine = database.get_engine()
        try:
            with session_scope(engine) as session:
                assign_missing_slugs(session)
            plan = plan_tick(engine, now, ReportsConfig.from_env(), calendar_lookup)
        except (OperationalError, ProgrammingError) as exc:
            if "report_definitions" not in str(exc) and "slug" not in str(exc):
                raise
            return dg.SkipReason("report tables missing in the business database: run `routines db upgrade`")

        with session_scope(engine) as session:
            wanted = active_partition_keys(session)
        known = set(context.instance.get_dynamic_partitions(REPORT_PARTITIONS_NAME))
        partition_requests = []
        if missing := sorted(set(wanted) - known):
            partition_requests.append(report_partitions.build_add_request(missing))
        if gone := sorted(known - set(wanted)):  # disabled or deleted definitions
            partition_requests.append(report_partitions.build_delete_request(gone))
        key_of = {active.report_id: key for key, active in wanted.items()}
        company_of = {active.report_id: active.company_code for active in wanted.values()}

        run_requests = []
        held = skipped = 0
        waits = _wait_settings(engine, {run.report_id for run in plan.runs})
        for run in plan.runs:
            if run.report_id not in key_of:
                continue
            # the company: a failed run is told to its admins, not to every company's
            tags = {
                RUN_KEY_TAG: run.run_key,
                TRIGGER_TAG: run.trigger,
                COMPANY_TAG: company_of[run.report_id],
            }
            wait = waits.get(run.report_id)
            if wait is not None and run.trigger == "schedule":
                from datetime import date

                from routines.defs.reports.waits import missing_assets
                from routines.reports.waits import WARNING_TAG, decide

                missing = missing_assets(context.instance, list(wait.wait_for_assets), run.partition_day)
                decision = decide(missing, run.scheduled_for, now, wait.wait_limit_minutes, wait.wait_action)
                if decision.action == "wait":
                    held += 1
                    context.log.info(f"{run.run_key}: aguardando {', '.join(decision.missing)}")
                    continue
                if decision.action == "skip":
                    _skip_execution(
                        engine, run.execution_id, decision.warning(date.fromisoformat(run.partition_day)), now
                    )
                    skipped += 1
                    continue
                if decision.action == "warn":
                    tags[WARNING_TAG] = "true"
            run_requests.append(
                dg.RunRequest(
                    run_key=run.run_key,
                    partition_key=partition_key(key_of[run.report_id], run.partition_day),
                    tags=tags,
                )
            )
        if held or skipped:
            context.log.info(f"aguardando dados: {held} execuções; puladas por falta de dados: {skipped}")
        context.log.info(plan.summary())
        return dg.SensorResult(
            run_requests=run_requests, dynamic_partitions_requests=partition_requests, cursor=now.isoformat()
        )

    return _sensor


report_schedule_sensor = build_report_schedule_sensor(reports_job)


def build_report_watchdog_sensor(
    clock: Callable[[], datetime] = lambda: datetime.now(UTC), name: str = "report_execution_watchdog"
) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Execuções de relatório presas em 'running' cuja run Dagster já terminou (ou sumiu): marca como "
            "falha com o motivo e registra uma notificação. O e-mail nunca é reenviado automaticamente."
        ),
    )
    def _watchdog(context: dg.SensorEvaluationContext, database: DatabaseResource):
        from routines.reports.service import fail_stale_executions, running_executions

        engine = database.get_engine()
        running = running_executions(engine)
        run_ids = sorted({r.dagster_run_id for r in running if r.dagster_run_id})
        statuses: dict[str, str | None] = dict.fromkeys(run_ids)
        if run_ids:
            for run in context.instance.get_runs(dg.RunsFilter(run_ids=run_ids)):
                statuses[run.run_id] = run.status.value
        failed = fail_stale_executions(engine, statuses, clock(), running=running)
        if not failed:
            return dg.SkipReason(f"{len(running)} execuções em andamento, nenhuma abandonada")
        message = f"execuções abandonadas marcadas como falha e notificadas: {', '.join(map(str, failed))}"
        context.log.warning(message)
        return dg.SkipReason(message)

    return _watchdog


report_execution_watchdog = build_report_watchdog_sensor()
