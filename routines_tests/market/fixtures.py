"""Small COTAHIST files built from the B3 layout (docs/market_cotahist.md), for tests that must stand alone."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

from routines_tests.helpers import shared_data

REAL_DAY = date(2021, 6, 25)
REAL_FILE = "b3/COTAHIST_D25062021.TXT"


def _num(value: int, width: int) -> str:
    text = str(value)
    assert len(text) <= width, (value, width)
    return text.zfill(width)


def header(day: date, name: str = "COTAHIST.2021") -> str:
    return "00" + name.ljust(13) + "BOVESPA ".ljust(8) + day.strftime("%Y%m%d") + " " * 214


def trailer(day: date, count: int, name: str = "COTAHIST.2021") -> str:
    return "99" + name.ljust(13) + "BOVESPA ".ljust(8) + day.strftime("%Y%m%d") + _num(count, 11) + " " * 203


def quote(
    day: date,
    ticker: str,
    *,
    bdi: str = "02",
    market: str = "010",
    company: str = "EMPRESA",
    spec: str = "ON      NM",
    term: str = "   ",
    currency: str = "R$",
    prices: tuple[int, int, int, int, int, int, int] = (2969, 2979, 2895, 2941, 2910, 2910, 2914),
    trades: int = 10,
    quantity: int = 1000,
    volume: int = 2910000,
    strike: int = 0,
    correction: int = 0,
    expiry: str = "99991231",
    factor: int = 1,
    points: int = 0,
    isin: str = "BRXXXXACNOR0",
    distribution: int = 100,
) -> str:
    record = (
        "01"
        + day.strftime("%Y%m%d")
        + bdi.ljust(2)
        + ticker.ljust(12)
        + market.ljust(3)
        + company.ljust(12)[:12]
        + spec.ljust(10)
        + term.ljust(3)
        + currency.ljust(4)
        + "".join(_num(p, 13) for p in prices)
        + _num(trades, 5)
        + _num(quantity, 18)
        + _num(volume, 18)
        + _num(strike, 13)
        + _num(correction, 1)
        + expiry
        + _num(factor, 7)
        + _num(points, 13)
        + isin.ljust(12)
        + _num(distribution, 3)
    )
    assert len(record) == 245, len(record)
    return record


def build_txt(day: date, quotes: list[str], *, eol: str = "\r\n", count: int | None = None) -> bytes:
    records = [header(day), *quotes, trailer(day, len(quotes) + 2 if count is None else count)]
    return "".join(record + eol for record in records).encode("latin-1")


def sample_quotes(day: date) -> list[str]:
    return [
        quote(day, "AAAA3", company="ALFA", prices=(1000, 1100, 990, 1050, 1020, 1019, 1021), volume=1234567),
        # Unknown codes (not in the 2005 tables) must be accepted.
        quote(day, "BBBB11", bdi="93", market="021", company="BETA ÇÃO", volume=5),
        # An option: strike, expiry, PRAZOT 000, strike in points with 6 decimals.
        quote(
            day,
            "PETRG75",
            bdi="78",
            market="070",
            term="000",
            prices=(1, 1, 1, 1, 1, 0, 1),
            strike=3821,
            expiry="20210716",
            points=12345678,
        ),
        # Two forward records differing only by their term.
        quote(day, "PETR4T", bdi="62", market="030", term="030"),
        quote(day, "PETR4T", bdi="62", market="030", term="060"),
    ]


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def real_txt() -> bytes:
    return Path(shared_data(REAL_FILE)).read_bytes()


def real_zip() -> bytes:
    return zip_bytes({"COTAHIST_D25062021.TXT": real_txt()})
