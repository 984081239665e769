"""The `reports` asset: one materialization = one execution of a report for a day. Thin glue over
`routines.reports.service.run_execution`."""

import dagster as dg

from routines.defs.reports.partitions import RUN_KEY_TAG, TRIGGER_TAG, reports_partitions_def
from routines.lib.resources import DatabaseResource, FileStoreResource


@dg.asset(
    partitions_def=reports_partitions_def,
    group_name="reports",
    kinds={"python", "email"},
    description=(
        "Relatório de uma definição (report_definitions) num dia: consulta somente leitura, arquivo "
        "xlsx/pdf/csv no file store, e-mail pelo SMTP da empresa e linha em report_executions. "
        "Materializar uma partição na UI = 'executar agora' (origem ui)."
    ),
)
def reports(context: dg.AssetExecutionContext, database: DatabaseResource, file_store: FileStoreResource):
    from routines.reports.service import ReportRunError, run_execution

    keys = context.partition_key.keys_by_dimension
    report_id = int(keys["report"])
    tags = context.run.tags
    run_key = tags.get(RUN_KEY_TAG)
    trigger = tags.get(TRIGGER_TAG, "ui") if run_key else "ui"
    try:
        result = run_execution(
            database.get_engine(),
            file_store.get_store(),
            report_id=report_id,
            run_key=run_key,
            trigger=trigger,
            day=keys["day"],
            dagster_run_id=context.run.run_id,
        )
    except ReportRunError as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={"execution_id": exc.execution_id or 0, "report_id": report_id},
            allow_retries=False,
        ) from exc
    if result.already_done:
        context.log.info(f"execution {result.execution_id} already succeeded: not sent again")
    metadata = dict(result.metadata())
    metadata["trigger"] = trigger
    if result.preview:
        metadata["preview"] = dg.MetadataValue.md(result.preview)
    return dg.MaterializeResult(metadata=metadata)


reports_job = dg.define_asset_job("reports_job", selection=[reports])
