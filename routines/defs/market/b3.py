"""B3 daily quotes as Dagster assets (thin glue over routines.market.cotahist / b3_files / b3_load).

- `b3_cotahist_file`: downloads the session's COTAHIST ZIP (or, for a backfill of whole past months/years, the
  monthly/yearly file once), checks it completely and stores the raw ZIP in the file store.
- `b3_quotes`: replaces the sessions' rows of table `b3_quotes` from the stored files (one transaction per file)
  and reports the asset checks.

Partitions: B3 business days (the current session's partition exists during the day, so the publication sensor
can request it the same evening). A range of partitions runs as one run (BackfillPolicy.single_run()).
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from routines.defs.market.resources import B3CotahistSite
from routines.lib.partitions import TIMEZONE, business_day_partitions
from routines.lib.resources import (
    EXTERNAL_RETRY_POLICY,
    BusinessCalendarResource,
    DatabaseResource,
    FileStoreResource,
    bad_input_fails,
    http_failures,
)

B3_START_DATE = "2019-01-02"
B3_PARTITIONS = business_day_partitions("B3", B3_START_DATE, include_current_day=True)
GROUP = "market"

CHECK_TRAILER = "trailer_count_matches"
CHECK_UNIQUE = "unique_natural_key"
CHECK_PRICES = "prices_within_low_high"
CHECK_ROW_COUNT = "row_count_vs_previous_business_day"


def _today() -> date:
    return datetime.now(ZoneInfo(TIMEZONE)).date()


def _days(context: dg.AssetExecutionContext) -> list[date]:
    return sorted(date.fromisoformat(key) for key in context.partition_keys)


def _plan(context: dg.AssetExecutionContext, b3_calendar: BusinessCalendarResource):
    from routines.market.b3_files import plan_downloads

    return plan_downloads(_days(context), b3_calendar.calendar, _today())


def build_b3_cotahist_file(retry_policy: dg.RetryPolicy = EXTERNAL_RETRY_POLICY) -> dg.AssetsDefinition:
    """The file asset; the retry policy is a parameter so tests can retry without waiting."""

    @dg.asset(
        group_name=GROUP,
        partitions_def=B3_PARTITIONS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=retry_policy,
        pool="b3",
        kinds={"file"},
        description=(
            "Arquivo COTAHIST da B3 (cotações históricas) do pregão: baixado, conferido (ZIP com um TXT, header com "
            "a data do pregão, registros de 245 caracteres só daquele pregão, dia útil B3, sem chave repetida, "
            "trailer com o total de registros) e guardado no file store. Backfill de meses/anos inteiros baixa o "
            "arquivo mensal/anual uma vez."
        ),
    )
    def b3_cotahist_file(
        context: dg.AssetExecutionContext,
        b3_cotahist_site: B3CotahistSite,
        b3_calendar: BusinessCalendarResource,
        file_store: FileStoreResource,
    ) -> dg.MaterializeResult:
        from routines.market.b3_files import download_and_store

        store = file_store.get_store()
        client = b3_cotahist_site.client()
        files = []
        try:
            for planned in _plan(context, b3_calendar):
                context.log.info(f"downloading {planned.name} for {len(planned.days)} session(s)")
                with http_failures(), bad_input_fails():
                    stored, summary, url = download_and_store(client, planned, store)
                context.log.info(f"{planned.name}: {summary.quotes} quote records, sha256 {stored.sha256}")
                files.append((planned, stored, summary, url))
        finally:
            client.close()
        wanted = {day.isoformat() for day in _days(context)}
        for planned, stored, summary, url in files:
            for day in planned.days:
                if day.isoformat() not in wanted:
                    continue
                # Each partition's materialization describes its own session: the file holding it and its count.
                context.add_asset_metadata(
                    {
                        "session": day.isoformat(),
                        "dagster/row_count": summary.quotes_per_day.get(day, 0),
                        "file": planned.name,
                        "key": stored.key,
                        **stored.metadata(),
                        "source_url": dg.MetadataValue.url(url),
                        "trailer_count": summary.trailer_count,
                    },
                    partition_key=day.isoformat(),
                )
        return dg.MaterializeResult()

    return b3_cotahist_file


b3_cotahist_file = build_b3_cotahist_file()


def _preview_md(day: date, rows: list[dict[str, object]]) -> str:
    title = f"**Pregão de {day:%d/%m/%Y}** — {len(rows)} maiores volumes\n\n"
    header = "| ticker | mercado | abertura | máxima | mínima | fechamento | negócios | volume |\n"
    header += "|---|---|---|---|---|---|---|---|\n"
    return (
        title
        + header
        + "\n".join(
            f"| {r['ticker']} | {r['market_type']} | {r['open']} | {r['high']} | {r['low']} | {r['close']} | "
            f"{r['trades']} | {r['volume']} |"
            for r in rows
        )
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=B3_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[b3_cotahist_file],
    kinds={"sql"},
    # business deadline: the session D loaded by 20:00 of D (B3 calendar); missed sessions of the last 5 B3
    # business days are requested again by the catch-up sensor (routines/defs/alerts)
    metadata={"routines/deadline": {"calendar": "B3", "time": "20:00", "business_days_after": 0}},
    tags={"routines/catch_up_lookback": "5"},
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_TRAILER, asset="b3_quotes", description="TOTREG do trailer = registros lidos"
        ),
        dg.AssetCheckSpec(
            CHECK_UNIQUE,
            asset="b3_quotes",
            description="Sem chave repetida (trade_date, ticker, market_type, term_days, expiry_date, strike)",
        ),
        dg.AssetCheckSpec(
            CHECK_PRICES, asset="b3_quotes", description="mínima <= abertura, fechamento <= máxima"
        ),
        dg.AssetCheckSpec(
            CHECK_ROW_COUNT,
            asset="b3_quotes",
            description="Linhas do pregão comparadas com o pregão anterior (aviso se cair além do limite)",
        ),
    ],
    description=(
        "Cotações do COTAHIST (registros 01) na tabela b3_quotes, uma linha por registro; carregar um pregão "
        "substitui exatamente as linhas daquele dia numa transação (idempotente), uma carga por pregão de cada vez."
    ),
)
def b3_quotes(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    file_store: FileStoreResource,
    b3_calendar: BusinessCalendarResource,
) -> dg.MaterializeResult:
    from routines.market import settings
    from routines.market.b3_load import (
        count_rows,
        duplicate_keys,
        load_cotahist,
        price_order_violations,
        top_by_volume,
    )

    engine = database.get_engine()
    store = file_store.get_store()
    wanted = set(_days(context))
    results = []
    for planned in _plan(context, b3_calendar):
        if not store.exists(planned.key):
            raise dg.Failure(
                description=f"{planned.key} is not in the file store: materialize b3_cotahist_file for "
                f"{', '.join(d.isoformat() for d in planned.days if d in wanted)} first",
                allow_retries=False,
            )
        days = [day for day in planned.days if day in wanted]
        with bad_input_fails():
            result = load_cotahist(
                store.path(planned.key),
                engine,
                name=planned.name,
                expected_date=planned.expected_date,
                days=days,
            )
        context.log.info(f"{planned.name}: {result.rows} rows loaded for {len(result.days)} session(s)")
        results.append(result)
    days = sorted(wanted)
    last = days[-1]

    trailer_ok = all(r.summary.trailer_count == r.summary.records for r in results)
    duplicates, groups = duplicate_keys(engine, days)
    disorder, bad_rows = price_order_violations(engine, days)
    calendar = b3_calendar.calendar
    previous = calendar.offset(last, -1)
    current_count, previous_count = count_rows(engine, last), count_rows(engine, previous)
    threshold = settings.b3_row_drop_warn()
    drop = (previous_count - current_count) / previous_count if previous_count else 0.0
    checks = [
        dg.AssetCheckResult(
            check_name=CHECK_TRAILER,
            passed=trailer_ok,
            metadata={
                "files": len(results),
                "records_read": sum(r.summary.records for r in results),
                "trailer_total": sum(r.summary.trailer_count or 0 for r in results),
            },
        ),
        dg.AssetCheckResult(
            check_name=CHECK_UNIQUE,
            passed=duplicates == 0,
            metadata={"duplicate_keys": duplicates, "examples": str(groups[:5])},
        ),
        dg.AssetCheckResult(
            check_name=CHECK_PRICES,
            passed=disorder == 0,
            metadata={"rows_out_of_order": disorder, "examples": str(bad_rows[:5])},
        ),
        dg.AssetCheckResult(
            check_name=CHECK_ROW_COUNT,
            passed=previous_count == 0 or drop <= threshold,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "session": last.isoformat(),
                "rows": current_count,
                "previous_session": previous.isoformat(),
                "previous_rows": previous_count,
                "drop": round(drop, 4),
                "warn_threshold": threshold,
            },
            description=None if previous_count else "pregão anterior não carregado: nada a comparar",
        ),
    ]
    for result in results:
        for day, count in result.rows_per_day.items():
            # Each partition's materialization carries its own session's count and preview, labelled with the day.
            context.add_asset_metadata(
                {
                    "session": day.isoformat(),
                    "dagster/row_count": count,
                    "file": result.file_name,
                    "preview": dg.MetadataValue.md(_preview_md(day, top_by_volume(engine, day))),
                },
                partition_key=day.isoformat(),
            )
    return dg.MaterializeResult(check_results=checks)


b3_quotes_job = dg.define_asset_job(
    "b3_quotes_job",
    selection=[b3_cotahist_file, b3_quotes],
    description="Baixa e carrega o COTAHIST do pregão (B3)",
)
