"""Consolidated trade prices files dropped in a watched folder (pure: no Dagster).

Format (docs/market_trade_prices.md): a semicolon CSV with pt-BR numbers, UTF-8 (latin-1 accepted), header
`data;codigo;tipo;preco;moeda`, one line per instrument, all lines of the file's date:

    data;codigo;tipo;preco;moeda
    25/06/2021;PETR4;ACAO;29,10;BRL
    25/06/2021;NTN-B 2035;TITULO;4.123,45678901;BRL

The file name carries the date (default pattern `precos_trade_YYYYMMDD.csv`). Every value is checked against
its column (length, precision and scale) before anything is written. Loading a file replaces the rows of its
date in one transaction; a file that fails (bad content or a database error) loads nothing and is moved to
`rejected/` with a `<name>.error.txt` saying why (line and field for bad content). A file whose content is
already the loaded one for its date is moved to `duplicates/` with a `<name>.note.txt`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Engine, delete

from routines.errors import InputFileError

HEADER = ("data", "codigo", "tipo", "preco", "moeda")
PRICE = re.compile(r"^-?(\d{1,3}(\.\d{3})+|\d+)(,\d{1,8})?$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
FIELD_COLUMNS = {"codigo": "instrument", "tipo": "instrument_type", "preco": "price", "moeda": "currency"}


@dataclass(frozen=True)
class TradePrice:
    line: int
    price_date: date
    instrument: str
    instrument_type: str
    price: Decimal
    currency: str


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def date_from_name(name: str, pattern: re.Pattern[str]) -> date | None:
    """The date in a file name (group `date`, YYYYMMDD); None when the name does not match the pattern."""
    match = pattern.fullmatch(name)
    if not match:
        return None
    try:
        return datetime.strptime(match.group("date"), "%Y%m%d").date()
    except ValueError:
        raise InputFileError(
            name, f"invalid date {match.group('date')!r} in the file name (YYYYMMDD)"
        ) from None


def parse_price(value: str) -> Decimal:
    """pt-BR decimal: `1.234,56` -> Decimal('1234.56')."""
    return Decimal(value.replace(".", "").replace(",", "."))


def parse_trade_prices(data: bytes, name: str, expected_date: date) -> list[TradePrice]:
    """Validate the whole file; raises InputFileError naming line and field at the first problem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputFileError(name, "the file is empty", line=1)
    header = tuple(column.strip().lower() for column in lines[0].split(";"))
    if header != HEADER:
        raise InputFileError(name, f"header must be {';'.join(HEADER)!r}, found {lines[0]!r}", line=1)
    prices: list[TradePrice] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines[1:], start=2):
        if not raw.strip():
            continue
        values = [value.strip() for value in raw.split(";")]
        if len(values) != len(HEADER):
            raise InputFileError(
                name, f"{len(values)} fields, expected {len(HEADER)} separated by ';'", line=number
            )
        day_text, instrument, kind, price_text, currency = values
        try:
            day = datetime.strptime(day_text, "%d/%m/%Y").date()
        except ValueError:
            raise InputFileError(
                name, f"invalid date {day_text!r} (DD/MM/AAAA)", line=number, field="data"
            ) from None
        if day != expected_date:
            raise InputFileError(
                name,
                f"date {day:%d/%m/%Y} differs from the file's date {expected_date:%d/%m/%Y}",
                line=number,
                field="data",
            )
        if not instrument or len(instrument) > 40:
            raise InputFileError(
                name, "instrument code must have 1 to 40 characters", line=number, field="codigo"
            )
        if instrument in seen:
            raise InputFileError(
                name,
                f"instrument {instrument!r} repeated (first on line {seen[instrument]})",
                line=number,
                field="codigo",
            )
        seen[instrument] = number
        if not kind or len(kind) > 20:
            raise InputFileError(name, "type must have 1 to 20 characters", line=number, field="tipo")
        if not PRICE.match(price_text):
            raise InputFileError(
                name,
                f"invalid price {price_text!r} (pt-BR: 1.234,56; up to 8 decimals)",
                line=number,
                field="preco",
            )
        if not CURRENCY.match(currency):
            raise InputFileError(
                name, f"invalid currency {currency!r} (ISO code such as BRL)", line=number, field="moeda"
            )
        price = TradePrice(number, day, instrument, kind, parse_price(price_text), currency)
        _check_fits(price, name)
        prices.append(price)
    if not prices:
        raise InputFileError(name, "no price lines after the header", line=2)
    return prices


def _check_fits(price: TradePrice, name: str) -> None:
    """Every value fits its column of `consolidated_trade_prices` (never rounded, never a database error)."""
    from routines.market.columns import misfit
    from routines.market.models import ConsolidatedTradePrice

    columns = ConsolidatedTradePrice.__table__.columns
    for field, column in FIELD_COLUMNS.items():
        reason = misfit(columns[column], getattr(price, column))
        if reason:
            raise InputFileError(name, f"value does not fit: {reason}", line=price.line, field=field)


def loaded_sha256(engine: Engine, day: date) -> set[str]:
    """sha256 of the file whose prices are loaded for `day` (empty when none)."""
    from sqlalchemy import select

    from routines.market.models import ConsolidatedTradePrice

    statement = select(ConsolidatedTradePrice.source_sha256).where(ConsolidatedTradePrice.price_date == day)
    with engine.connect() as connection:
        return set(connection.scalars(statement.distinct()))


def load_trade_prices(prices: list[TradePrice], engine: Engine, day: date, name: str, sha256: str) -> int:
    """Replace the day's rows by the file's, in one transaction."""
    from routines.database.base import utcnow
    from routines.market.models import ConsolidatedTradePrice

    loaded_at = utcnow()
    with engine.begin() as connection:
        connection.execute(delete(ConsolidatedTradePrice).where(ConsolidatedTradePrice.price_date == day))
        if prices:
            connection.execute(
                ConsolidatedTradePrice.__table__.insert(),
                [
                    {
                        "price_date": p.price_date,
                        "instrument": p.instrument,
                        "instrument_type": p.instrument_type,
                        "price": p.price,
                        "currency": p.currency,
                        "source_file": name,
                        "source_sha256": sha256,
                        "source_line": p.line,
                        "loaded_at": loaded_at,
                    }
                    for p in prices
                ],
            )
    return len(prices)
