"""Export types over the market tables: B3 quotes of some tickers over B3 business days (CSV) and the quota
history of some CVM funds (XLSX)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from routines.exports.context import ExportContext, ExportOutput, thousands
from routines.exports.payloads import B3QuotesPayload, CvmFundHistoryPayload
from routines.exports.tables import Column, Sheet, write_csv, write_xlsx
from routines.market.models import B3Quote, CvmFundQuota

B3_COLUMNS = [
    Column("Data", "date"),
    Column("Ticker"),
    Column("Mercado"),
    Column("Especificação"),
    Column("Prazo (dias)", "int"),
    Column("Abertura", "decimal"),
    Column("Máxima", "decimal"),
    Column("Mínima", "decimal"),
    Column("Média", "decimal"),
    Column("Fechamento", "decimal"),
    Column("Negócios", "int"),
    Column("Quantidade", "int"),
    Column("Volume (R$)", "money"),
]


def b3_quotes(ctx: ExportContext, payload: B3QuotesPayload) -> ExportOutput:
    """Quotes of the tickers on the B3 business days of the range; the summary names days without quotes."""
    from routines.calendar.registry import get_calendar

    days = get_calendar("B3").business_days(payload.start, payload.end)
    ctx.progress(5, 100, f"{len(days)} pregões da B3 no período")
    q = B3Quote
    query = (
        select(
            q.trade_date, q.ticker, q.market_type, q.specification, q.term_days, q.open, q.high, q.low,
            q.average, q.close, q.trades, q.quantity, q.volume,
        )
        .where(q.ticker.in_(payload.tickers), q.trade_date.between(payload.start, payload.end))
        .order_by(q.trade_date, q.ticker, q.market_type, q.term_days)
    )  # fmt: skip
    business_days = set(days)
    with ctx.engine.connect() as connection:
        rows = [row for row in connection.execute(query) if row[0] in business_days]
    ctx.progress(40, 100, f"{thousands(len(rows))} cotações lidas")
    data = write_csv(B3_COLUMNS, rows, ctx.rows_progress(len(rows), 40, 95), label="cotações")
    found_days = {row[0] for row in rows}
    missing_days = [day for day in days if day not in found_days]
    found_tickers = {row[1] for row in rows}
    missing_tickers = [ticker for ticker in payload.tickers if ticker not in found_tickers]
    summary = f"{thousands(len(rows))} cotações de {len(payload.tickers)} ticker(s) em {len(days)} pregões"
    if missing_days:
        summary += f"; {len(missing_days)} pregão(ões) sem cotações carregadas (o primeiro: {missing_days[0]:%d/%m/%Y})"
    if missing_tickers:
        summary += f"; sem cotações: {', '.join(missing_tickers[:10])}"
    return ExportOutput(
        summary=summary,
        data=data,
        file_name=f"cotacoes_b3_{payload.start:%Y%m%d}_{payload.end:%Y%m%d}.csv",
        result={
            "rows": len(rows),
            "business_days": len(days),
            "days_without_quotes": [day.isoformat() for day in missing_days[:50]],
            "tickers_without_quotes": missing_tickers,
        },
    )


CVM_COLUMNS = [
    Column("CNPJ do fundo", "text", 20),
    Column("Subclasse"),
    Column("Tipo", "text", 8),
    Column("Data", "date"),
    Column("Valor da cota", "quota"),
    Column("Patrimônio líquido", "money"),
    Column("Valor total da carteira", "money"),
    Column("Captações no dia", "money"),
    Column("Resgates no dia", "money"),
    Column("Cotistas", "int"),
]
SUMMARY_COLUMNS = [
    Column("CNPJ do fundo", "text", 20),
    Column("Subclasse"),
    Column("Primeira data", "date"),
    Column("Última data", "date"),
    Column("Dias com cota", "int"),
    Column("Primeira cota", "quota"),
    Column("Última cota", "quota"),
    Column("Variação da cota (%)", "quota"),
]


def cvm_fund_history(ctx: ExportContext, payload: CvmFundHistoryPayload) -> ExportOutput:
    f = CvmFundQuota
    where = (f.fund_cnpj.in_(payload.funds), f.report_date >= payload.start, f.report_date <= payload.end)
    query = (
        select(
            f.fund_cnpj, f.subclass_id, f.fund_type, f.report_date, f.quota_value, f.net_assets, f.total_value,
            f.inflows, f.redemptions, f.shareholders,
        )
        .where(*where)
        .order_by(f.fund_cnpj, f.subclass_id, f.report_date)
    )  # fmt: skip
    with ctx.engine.connect() as connection:
        total = connection.scalar(select(func.count()).select_from(f).where(*where))
        rows = connection.execute(query).all()
    ctx.progress(30, 100, f"{thousands(total)} cotas lidas")
    summary_rows = []
    by_fund: dict[tuple[str, str], list] = {}
    for row in rows:
        by_fund.setdefault((row[0], row[1]), []).append(row)
    for (cnpj, subclass), fund_rows in by_fund.items():
        quotas = [r for r in fund_rows if r[4] is not None]
        first, last = (quotas[0][4], quotas[-1][4]) if quotas else (None, None)
        change = ((last / first - 1) * 100).quantize(Decimal("0.00000001")) if first else None
        summary_rows.append(
            (cnpj, subclass, fund_rows[0][3], fund_rows[-1][3], len(quotas), first, last, change)
        )
    data = write_xlsx(
        [Sheet("Cotas", CVM_COLUMNS, rows), Sheet("Resumo", SUMMARY_COLUMNS, summary_rows)],
        ctx.rows_progress(total + len(summary_rows), 30, 95),
        label="cotas",
    )
    missing = [cnpj for cnpj in payload.funds if cnpj not in {key[0] for key in by_fund}]
    summary = f"{thousands(total)} cotas de {len(by_fund)} fundo(s) de {payload.start:%d/%m/%Y} a {payload.end:%d/%m/%Y}"
    if missing:
        summary += f"; sem cotas no período: {', '.join(missing[:10])}"
    return ExportOutput(
        summary=summary,
        data=data,
        file_name=f"cotas_cvm_{payload.start:%Y%m%d}_{payload.end:%Y%m%d}.xlsx",
        result={"rows": total, "funds": len(by_fund), "funds_without_quotas": missing},
    )
