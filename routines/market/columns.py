"""Does a value fit its column exactly? Checked by the parsers before anything is written, so that a value is
refused naming its line and field instead of being rounded (PostgreSQL rounds the decimals of NUMERIC(p, s)
silently) or failing in the database (`numeric field overflow`, `value too long`, `integer out of range`)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Column, Integer, SmallInteger, String

from routines.database.base import ExactDecimal

_INTEGER_BITS = ((SmallInteger, 16), (BigInteger, 64), (Integer, 32))  # subclasses first


def decimal_misfit(value: Decimal, precision: int, scale: int) -> str | None:
    """Why `value` does not fit NUMERIC(precision, scale) with every digit kept; None when it fits."""
    if not value.is_finite():
        return f"{value} is not a number"
    shown = format(value, "f")
    exponent = value.normalize().as_tuple().exponent if value else 0
    decimals = max(0, -int(exponent))
    if decimals > scale:
        return f"{shown} has {decimals} decimal places; the column keeps {scale} (it would be rounded)"
    whole = len(str(abs(int(value)))) if abs(value) >= 1 else 0
    if whole > precision - scale:
        return f"{shown} has {whole} digits before the decimal point; the column holds {precision - scale}"
    return None


def misfit(column: Column, value: object) -> str | None:
    """Why `value` does not fit `column` (a model's column: exact decimal, integer or string); None when it fits."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, ExactDecimal):
        return decimal_misfit(Decimal(value), kind.precision, kind.scale)
    if isinstance(kind, String) and kind.length is not None and len(str(value)) > kind.length:
        return f"{len(str(value))} characters; the column holds {kind.length}"
    for integer, bits in _INTEGER_BITS:
        if isinstance(kind, integer):
            limit = 2 ** (bits - 1)
            if not -limit <= int(value) < limit:
                return f"{value} is outside the column's range ({-limit} to {limit - 1})"
            break
    return None
