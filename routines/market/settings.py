"""Configuration of the market domain (environment variables, read when used, never at import).

| variable | default |
|---|---|
| ROUTINES_B3_BASE_URL | https://bvmf.bmfbovespa.com.br/InstDados/SerHist |
| ROUTINES_B3_PUBLICATION_START | 18:30 (America/Sao_Paulo: the sensor starts checking) |
| ROUTINES_B3_PUBLICATION_DEADLINE | 23:00 (past it the day is reported late) |
| ROUTINES_B3_ROW_DROP_WARN | 0.2 (warn when a day has 20% fewer rows than the previous business day) |
| ROUTINES_CVM_BASE_URL | https://dados.cvm.gov.br/dados/FI/DOC/INF_DIARIO/DADOS |
| ROUTINES_TRADE_PRICES_DIR | $ROUTINES_HOME/drops/trade_prices |
| ROUTINES_TRADE_PRICES_PATTERN | precos_trade_(?P<date>\\d{8})\\.csv (date as YYYYMMDD) |
"""

from __future__ import annotations

import os
import re
from datetime import time
from pathlib import Path

from routines import settings
from routines.errors import UserError

B3_DEFAULT_BASE_URL = "https://bvmf.bmfbovespa.com.br/InstDados/SerHist"
CVM_DEFAULT_BASE_URL = "https://dados.cvm.gov.br/dados/FI/DOC/INF_DIARIO/DADOS"
TRADE_PRICES_DEFAULT_PATTERN = r"precos_trade_(?P<date>\d{8})\.csv"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def b3_base_url() -> str:
    return _env("ROUTINES_B3_BASE_URL", B3_DEFAULT_BASE_URL)


def cvm_base_url() -> str:
    return _env("ROUTINES_CVM_BASE_URL", CVM_DEFAULT_BASE_URL)


def _time(name: str, default: str) -> time:
    value = _env(name, default)
    try:
        hour, minute = value.split(":")
        return time(int(hour), int(minute))
    except ValueError:
        raise UserError(f"{name}={value!r}: expected a local time HH:MM") from None


def b3_publication_start() -> time:
    return _time("ROUTINES_B3_PUBLICATION_START", "18:30")


def b3_publication_deadline() -> time:
    return _time("ROUTINES_B3_PUBLICATION_DEADLINE", "23:00")


def b3_row_drop_warn() -> float:
    value = _env("ROUTINES_B3_ROW_DROP_WARN", "0.2")
    try:
        ratio = float(value)
    except ValueError:
        raise UserError(f"ROUTINES_B3_ROW_DROP_WARN={value!r}: expected a fraction such as 0.2") from None
    if not 0 <= ratio <= 1:
        raise UserError(f"ROUTINES_B3_ROW_DROP_WARN={value!r}: expected a fraction between 0 and 1")
    return ratio


def trade_prices_dir() -> Path:
    value = os.environ.get("ROUTINES_TRADE_PRICES_DIR", "").strip()
    return Path(value).resolve() if value else settings.routines_home() / "drops" / "trade_prices"


def trade_prices_pattern() -> re.Pattern[str]:
    value = _env("ROUTINES_TRADE_PRICES_PATTERN", TRADE_PRICES_DEFAULT_PATTERN)
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise UserError(
            f"ROUTINES_TRADE_PRICES_PATTERN={value!r}: invalid regular expression ({exc})"
        ) from None
    if "date" not in pattern.groupindex:
        raise UserError(
            f"ROUTINES_TRADE_PRICES_PATTERN={value!r}: needs a named group (?P<date>...) (YYYYMMDD)"
        )
    return pattern
