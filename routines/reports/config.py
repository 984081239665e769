"""Settings of the reports domain, read from environment variables when used (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from routines.errors import UserError


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r}: expected an integer") from None
    if value < minimum:
        raise UserError(f"{name}={value}: must be >= {minimum}")
    return value


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r}: expected a number") from None


@dataclass(frozen=True)
class ReportsConfig:
    max_rows: int = 100_000  # rows fetched per report (more are cut, and the e-mail says so)
    query_timeout_seconds: int = 120  # statement timeout
    catch_up_limit: int = 3  # missed fire times re-run per report after downtime; older ones: status missed
    tick_batch_size: int = 1000  # due definitions handled per sensor tick (the rest on the next tick)
    pending_window_hours: int = 24  # pending executions re-requested (idempotently) this long
    smtp_attempts: int = 4
    smtp_base_delay: float = 2.0

    @classmethod
    def from_env(cls) -> ReportsConfig:
        return cls(
            max_rows=_int("ROUTINES_REPORTS_MAX_ROWS", 100_000, 1),
            query_timeout_seconds=_int("ROUTINES_REPORTS_QUERY_TIMEOUT", 120, 1),
            catch_up_limit=_int("ROUTINES_REPORTS_CATCH_UP_LIMIT", 3, 0),
            tick_batch_size=_int("ROUTINES_REPORTS_TICK_BATCH", 1000, 1),
            pending_window_hours=_int("ROUTINES_REPORTS_PENDING_WINDOW_HOURS", 24, 1),
            smtp_attempts=_int("ROUTINES_REPORTS_SMTP_ATTEMPTS", 4, 1),
            smtp_base_delay=_float("ROUTINES_REPORTS_SMTP_BACKOFF", 2.0),
        )
