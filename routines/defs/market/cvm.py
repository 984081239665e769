"""CVM fund daily reports as a Dagster asset (thin glue over routines.market.cvm).

CVM re-publishes the monthly file of the current and of the previous month every day (Tuesday to Saturday,
08:00, with the data received up to the day before), so the asset is partitioned by month and the schedule
refreshes BOTH open months on every ANBIMA business day; older months are loaded once (backfill) and refreshed
only on demand. Each refresh upserts by (fund CNPJ, subclass, date): a re-published month converges to CVM's
latest figures without duplicates.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from routines.defs.market.resources import CvmFundsSite
from routines.lib.partitions import TIMEZONE
from routines.lib.resources import (
    EXTERNAL_RETRY_POLICY,
    BusinessCalendarResource,
    DatabaseResource,
    FileStoreResource,
    bad_input_fails,
    http_failures,
)

CVM_PARTITIONS = dg.MonthlyPartitionsDefinition(start_date="2023-01-01", timezone=TIMEZONE, end_offset=1)


@dg.asset(
    group_name="market",
    partitions_def=CVM_PARTITIONS,
    retry_policy=EXTERNAL_RETRY_POLICY,
    pool="cvm",
    kinds={"sql"},
    # business deadline: both open months refreshed by 10:00 of each ANBIMA business day (schedule at 09:30);
    # the catch-up sensor refreshes them when that deadline passed unmet
    metadata={"routines/deadline": {"kind": "refresh", "calendar": "ANBIMA", "time": "10:00"}},
    tags={"routines/catch_up_lookback": "1"},
    description=(
        "Informe Diário dos fundos (CVM) do mês: baixa inf_diario_fi_AAAAMM.zip, guarda no file store e faz "
        "upsert em cvm_fund_quotas por (CNPJ do fundo/classe, subclasse, data). Aceita os layouts antes e "
        "depois da Resolução CVM 175."
    ),
)
def cvm_fund_quotas(
    context: dg.AssetExecutionContext,
    cvm_funds_site: CvmFundsSite,
    database: DatabaseResource,
    file_store: FileStoreResource,
) -> dg.MaterializeResult:
    from routines.files import dated_key
    from routines.market.cvm import file_name, parse_report, upsert_report

    month_start = datetime.fromisoformat(context.partition_key)
    name = file_name(month_start.year, month_start.month)
    client = cvm_funds_site.client()
    try:
        with http_failures():
            response = client.get(name)
            data = response.content
        url = client.url(name)
    finally:
        client.close()
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    with bad_input_fails():  # names line and field; no retry
        report = parse_report(data, name, month=(month_start.year, month_start.month))
    # Each download is kept under the day it was fetched: the month's file changes every day while open.
    stored = file_store.get_store().write_bytes(dated_key("market/cvm", today, name), data)
    rows = upsert_report(report, database.get_engine(), name)
    dates = report.dates
    context.log.info(f"{name}: {rows} rows upserted ({report.layout} layout), {len(dates)} dates")
    preview = report.rows[:10]
    return dg.MaterializeResult(
        metadata={
            **stored.metadata(),
            "source_url": dg.MetadataValue.url(url),
            "dagster/row_count": rows,
            "layout": report.layout,
            "first_date": dates[0].isoformat() if dates else "",
            "last_date": dates[-1].isoformat() if dates else "",
            "funds": len({(r["fund_cnpj"], r["subclass_id"]) for r in report.rows}),
            "preview": dg.MetadataValue.md(
                "| CNPJ | subclasse | data | cota | PL |\n|---|---|---|---|---|\n"
                + "\n".join(
                    f"| {r['fund_cnpj']} | {r['subclass_id']} | {r['report_date']} | {r['quota_value']} | "
                    f"{r['net_assets']} |"
                    for r in preview
                )
            ),
        }
    )


cvm_fund_quotas_job = dg.define_asset_job("cvm_fund_quotas_job", selection=[cvm_fund_quotas])


def open_months(day) -> list[str]:
    """Partition keys of the months CVM still re-publishes on `day`: the previous and the current month."""
    first = day.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    return [previous.isoformat(), first.isoformat()]


@dg.schedule(
    name="cvm_fund_quotas_open_months_schedule",
    job=cvm_fund_quotas_job,
    cron_schedule="30 9 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description=(
        "Dias úteis ANBIMA às 09:30: atualiza os dois meses ainda republicados pela CVM (mês anterior e atual)"
    ),
)
def cvm_open_months_schedule(
    context: dg.ScheduleEvaluationContext, anbima_calendar: BusinessCalendarResource
):
    moment = (context.scheduled_execution_time or datetime.now(ZoneInfo(TIMEZONE))).astimezone(
        ZoneInfo(TIMEZONE)
    )
    day = moment.date()
    reason = anbima_calendar.calendar.closed_reason(day)
    if reason:
        return dg.SkipReason(f"{day:%d/%m/%Y} não é dia útil no calendário ANBIMA: {reason}")
    return [
        dg.RunRequest(
            run_key=f"{day.isoformat()}:{key}",
            partition_key=key,
            tags={"routines/business_day": day.isoformat()},
        )
        for key in open_months(day)
    ]
