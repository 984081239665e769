"""Assets of the invoices flow (thin glue over `routines.invoices.service`).

- `invoice_processes` (monthly, the billing month): one AGUARDANDO_DOWNLOAD process per active client x operator.
- `downloaded_invoices` (month x operator; operators are dynamic partitions synced from the database): up to N
  RPA jobs at once per op execution, each under a lease of the business database that bounds the jobs in flight
  across all runs and backfills to N; the op is in the `rpa` concurrency pool, whose limit is N.
- `sat_uploads` (monthly): uploads the approved invoices to the SAT with idempotency keys (pool `sat`).
"""

import os

import dagster as dg

from routines.defs.invoices.resources import RpaResource, SatResource
from routines.errors import UserError
from routines.lib.resources import (
    EXTERNAL_RETRY_POLICY,
    DatabaseResource,
    FileStoreResource,
    http_failures,
    pool_limit,
)

TIMEZONE = "America/Sao_Paulo"
START_MONTH = "2025-01-01"
RPA_POOL = "rpa"
SAT_POOL = "sat"
DEFAULT_RPA_LIMIT = 5

month_partitions = dg.MonthlyPartitionsDefinition(start_date=START_MONTH, timezone=TIMEZONE, end_offset=1)
operator_partitions = dg.DynamicPartitionsDefinition(name="invoice_operators")
month_operator_partitions = dg.MultiPartitionsDefinition(
    {"month": month_partitions, "operator": operator_partitions}
)


def rpa_job_limit(instance: dg.DagsterInstance, rpa: RpaResource) -> int:
    """The bound on RPA jobs in flight: the resource's `max_jobs_in_flight`, else the `rpa` pool's limit on
    this instance (`dagster instance concurrency set rpa N`), else its default pool limit, else 5."""
    if rpa.max_jobs_in_flight > 0:
        return rpa.max_jobs_in_flight
    return pool_limit(instance, RPA_POOL, DEFAULT_RPA_LIMIT)


def fail_on_process_errors(failed: list[dict], what: str, metadata: dict) -> None:
    """Fail the step (no retry: each process keeps its own error and retry path) naming every failed process."""
    if failed:
        raise dg.Failure(
            description=f"{len(failed)} {what}: "
            + "; ".join(f"processo {item['process_id']}: {item['error']}" for item in failed),
            metadata={**metadata, "failures": dg.MetadataValue.json(failed)},
            allow_retries=False,
        )


def month_operator_key(month_key: str, operator_code: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"month": month_key, "operator": operator_code})


BUSINESS_DAY_ENV = "ROUTINES_INVOICES_BUSINESS_DAY"


def business_day_setting() -> int:
    raw = os.environ.get(BUSINESS_DAY_ENV, "").strip() or "1"
    try:
        nth = int(raw)
    except ValueError:
        raise ValueError(
            f"{BUSINESS_DAY_ENV}={raw!r}: expected a business day number such as 1, 3 or -1"
        ) from None
    if nth == 0 or not -23 <= nth <= 23:
        raise ValueError(
            f"{BUSINESS_DAY_ENV}={raw!r}: expected 1..23 (from the start) or -1..-23 (from the end)"
        )
    return nth


def deadline_of_processes() -> dict:
    """Business deadline (routines/deadline): the processes of month M exist by 12:00 of the configured business
    day of M (the schedule creates them at 06:00 that day)."""
    return {"kind": "monthly", "calendar": "ANBIMA", "time": "12:00", "business_day": business_day_setting()}


@dg.asset(
    partitions_def=month_partitions,
    group_name="invoices",
    kinds={"sql"},
    metadata={"routines/deadline": deadline_of_processes()},
    description="Processos mensais de fatura: um por cliente ativo x operadora, em AGUARDANDO_DOWNLOAD.",
)
def invoice_processes(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    from routines.invoices import service

    month = service.month_start(context.partition_key)
    with database.session() as session:
        summary = service.create_month_processes(session, month, service.run_actor(context.run.run_id))
        counts = service.status_counts(session, month)
    context.log.info(
        f"{service.month_label(month)}: {summary.created} processo(s) criado(s), {summary.existing} já existiam"
    )
    return dg.MaterializeResult(
        metadata={
            "billing_month": service.month_label(month),
            "created": summary.created,
            "already_existing": summary.existing,
            "created_by_operator": dg.MetadataValue.json(summary.by_operator),
            "status_counts": dg.MetadataValue.json(counts),
        }
    )


@dg.asset(
    partitions_def=month_operator_partitions,
    deps=[invoice_processes],
    pool=RPA_POOL,
    retry_policy=EXTERNAL_RETRY_POLICY,
    group_name="invoices",
    kinds={"api", "pdf"},
    description=(
        "Faturas baixadas pelo RPA (até N jobs ao mesmo tempo, somando todas as execuções; N = limite do pool "
        "`rpa`): arquivo no file store (sha256) e processo em AGUARDANDO_APROVACAO, ou FALHA_DOWNLOAD com o erro "
        "e as últimas linhas de log."
    ),
)
def downloaded_invoices(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    file_store: FileStoreResource,
    rpa: RpaResource,
) -> dg.MaterializeResult:
    from routines.invoices import service

    keys = context.partition_key.keys_by_dimension
    month, operator = service.month_start(keys["month"]), keys["operator"]
    actor = service.run_actor(context.run.run_id)
    engine = database.get_engine()
    try:
        with http_failures():
            summary = service.download_partition(
                engine,
                file_store.get_store(),
                rpa.get_client(),
                month,
                operator,
                actor,
                log=context.log.info,
                leases=rpa.get_leases(engine, rpa_job_limit(context.instance, rpa), actor),
            )
    except UserError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    with database.session() as session:
        counts = service.status_counts(session, month, operator)
    metadata = {
        "billing_month": service.month_label(month),
        "operator": operator,
        "downloaded": len(summary.downloaded),
        "failed": len(summary.failed),
        "files": dg.MetadataValue.json(summary.downloaded),
        "busy": dg.MetadataValue.json(summary.busy),
        "status_counts": dg.MetadataValue.json(counts),
        "rpa_base_url": rpa.base_url,
    }
    fail_on_process_errors(
        summary.failed, f"download(s) falharam em {operator} {service.month_label(month)}", metadata
    )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=month_partitions,
    deps=[downloaded_invoices],
    pool=SAT_POOL,
    retry_policy=EXTERNAL_RETRY_POLICY,
    group_name="invoices",
    kinds={"api"},
    # every approved invoice of month M uploaded to SAT by 18:00 of the 5th ANBIMA business day of M
    metadata={
        "routines/deadline": {"kind": "monthly", "calendar": "ANBIMA", "time": "18:00", "business_day": 5}
    },
    description="Faturas aprovadas enviadas ao SAT com chave de idempotência; sucesso -> UPLOAD_REALIZADO.",
)
def sat_uploads(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    file_store: FileStoreResource,
    sat: SatResource,
) -> dg.MaterializeResult:
    from routines.invoices import service

    month = service.month_start(context.partition_key)
    with http_failures():
        summary = service.upload_month(
            database.get_engine(),
            file_store.get_store(),
            sat.get_client(),
            month,
            service.run_actor(context.run.run_id),
            log=context.log.info,
        )
    with database.session() as session:
        counts = service.status_counts(session, month)
    metadata = {
        "billing_month": service.month_label(month),
        "uploaded": len(summary.uploaded),
        "already_received": summary.duplicates,
        "failed": len(summary.failed),
        "protocols": dg.MetadataValue.json(summary.uploaded),
        "status_counts": dg.MetadataValue.json(counts),
        "sat_base_url": sat.base_url,
    }
    fail_on_process_errors(
        summary.failed, f"envio(s) ao SAT recusados em {service.month_label(month)}", metadata
    )
    return dg.MaterializeResult(metadata=metadata)


invoice_processes_job = dg.define_asset_job("invoice_processes_job", selection=[invoice_processes])
invoice_downloads_job = dg.define_asset_job("invoice_downloads_job", selection=[downloaded_invoices])
sat_uploads_job = dg.define_asset_job("sat_uploads_job", selection=[sat_uploads])
