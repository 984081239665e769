"""The `reports` asset: one materialization = one execution of a report for a day. Thin glue over
`routines.reports.service.run_execution`."""

import dagster as dg

from routines.defs.reports.partitions import RUN_KEY_TAG, TRIGGER_TAG, reports_partitions_def
from routines.lib.resources import DatabaseResource, FileStoreResource

BACKFILL_TAG = "dagster/backfill"


def _backfill_report_count(backfill) -> int:
    if backfill.partition_names is not None:  # job backfill
        return len(backfill.partition_names)
    data = backfill.asset_backfill_data
    if data is None:
        return 0
    subsets = data.target_subset.partitions_subsets_by_asset_key
    return len(subsets.get(dg.AssetKey("reports"), ()))


def _refuse_unconfirmed_backfill(context: dg.AssetExecutionContext, confirm_above: int) -> None:
    from dagster._core.execution.backfill import BulkActionStatus

    from routines.reports.backfills import CONFIRM_TAG, backfill_refusal

    backfill_id = context.run.tags.get(BACKFILL_TAG)
    if not backfill_id:
        return
    backfill = context.instance.get_backfill(backfill_id)
    if backfill is None:
        return
    refusal = backfill_refusal(
        _backfill_report_count(backfill), context.run.tags.get(CONFIRM_TAG), confirm_above
    )
    if refusal is None:
        return
    if backfill.status == BulkActionStatus.REQUESTED:  # stop it launching the other runs
        context.instance.update_backfill(backfill.with_status(BulkActionStatus.CANCELING))
    raise dg.Failure(description=f"nada enviado: {refusal}", allow_retries=False)


@dg.asset(
    partitions_def=reports_partitions_def,
    group_name="reports",
    kinds={"python", "email"},
    output_required=False,
    description=(
        "Relatório de uma definição (report_definitions) num dia: consulta na área de relatórios da empresa, "
        "arquivo xlsx/pdf/csv no file store, e-mail pelo SMTP da empresa (uma única vez por execução) e linha "
        "em report_executions. Materializar uma partição na UI = 'executar agora' (origem ui)."
    ),
)
def reports(context: dg.AssetExecutionContext, database: DatabaseResource, file_store: FileStoreResource):
    from routines.database.engine import session_scope
    from routines.reports.config import ReportsConfig
    from routines.reports.service import ReportRunError, definition_id_for_partition, run_execution

    config = ReportsConfig.from_env()
    _refuse_unconfirmed_backfill(context, config.backfill_confirm_above)
    keys = context.partition_key.keys_by_dimension
    engine = database.get_engine()
    with session_scope(engine) as session:
        report_id = definition_id_for_partition(session, keys["report"])
    tags = context.run.tags
    run_key = tags.get(RUN_KEY_TAG)
    trigger = tags.get(TRIGGER_TAG, "schedule") if run_key else "ui"
    if not run_key:  # UI: re-executions and automatic retries of the run map to the same execution
        run_key = f"report-{report_id}-ui-{context.run.root_run_id or context.run.run_id}"
    data_warning = _data_warning(context, engine, report_id, keys["day"])
    try:
        result = run_execution(
            engine, file_store.get_store(), report_id=report_id, run_key=run_key, trigger=trigger,
            day=keys["day"], dagster_run_id=context.run.run_id, config=config, data_warning=data_warning,
        )  # fmt: skip
    except ReportRunError as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={"execution_id": exc.execution_id or 0, "report_id": report_id},
            allow_retries=False,
        ) from exc
    if result.already_done:
        if result.status in ("success", "running"):
            context.log.warning(result.not_sent_reason)
            return  # no materialization: the run that claimed the execution materializes the partition
        raise dg.Failure(description=result.not_sent_reason, allow_retries=False)
    metadata = dict(result.metadata())
    metadata["trigger"] = trigger
    metadata["dagster/row_count"] = result.row_count
    if result.preview:
        metadata["preview"] = dg.MetadataValue.md(result.preview)
    yield dg.MaterializeResult(metadata=metadata)


def _data_warning(context, engine, report_id: int, day: str) -> str | None:
    """A run the sensor released after the wait limit (tag routines/report_missing_data): the pt-BR warning
    naming the assets still missing now (none: the data arrived meanwhile, no warning)."""
    from datetime import date

    from routines.database.engine import session_scope
    from routines.defs.reports.waits import missing_assets
    from routines.reports.models import ReportDefinition
    from routines.reports.waits import WARNING_TAG, WaitDecision

    if context.run.tags.get(WARNING_TAG) != "true":
        return None
    with session_scope(engine) as session:
        assets = list(session.get(ReportDefinition, report_id).wait_for_assets or [])
    missing = missing_assets(context.instance, assets, day)
    if not missing:
        return None
    warning = WaitDecision("warn", tuple(missing)).warning(date.fromisoformat(day))
    context.log.warning(warning)
    return warning


reports_job = dg.define_asset_job("reports_job", selection=[reports])
