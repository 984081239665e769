"""Functions used by `python` routines of the demo catalog (pure: day, parameters and shared pieces in)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal


def ptax_monthly_average(day: date, params: dict, database, calendar) -> dict:
    """Average selling PTAX of the month of `day` (a monthly partition's first day) from the PTAX table.
    Returns the metadata shown on the asset: the month, the number of quotes, the average and the business
    days of the month without a quote."""
    from sqlalchemy import inspect, text

    table = params.get("table", "ptax_usd_brl")
    first = day.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if not inspect(database).has_table(table):
        return {
            "month": f"{first:%Y-%m}",
            "quotes": 0,
            "missing_days": len(calendar.business_days(first, last)),
        }
    with database.connect() as connection:
        rows = connection.execute(
            text(f"SELECT reference_date, cotacao_venda FROM {table} WHERE reference_date BETWEEN :a AND :b"),
            {"a": first, "b": last},
        ).all()
    quoted = {date.fromisoformat(str(r[0])[:10]) for r in rows}
    values = [Decimal(str(r[1])) for r in rows]
    missing = [d for d in calendar.business_days(first, last) if d not in quoted]
    average = (sum(values) / len(values)).quantize(Decimal("0.0001")) if values else None
    return {
        "month": f"{first:%Y-%m}",
        "quotes": len(values),
        "average_sell": str(average) if average is not None else "",
        "missing_days": len(missing),
    }
