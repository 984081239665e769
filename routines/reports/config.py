"""Settings of the reports domain, read from environment variables when used (never at import)."""

from __future__ import annotations

from dataclasses import dataclass

from routines.settings import env_float, env_int


@dataclass(frozen=True)
class ReportsConfig:
    max_rows: int = 100_000  # rows fetched per report (more are cut, and the e-mail says so)
    max_bytes: int = 10_000_000  # data read per report (sum of the values' sizes); more is cut and said so
    query_timeout_seconds: int = 120  # time limit of the whole query, from its start to its last row
    catch_up_limit: int = 3  # missed fire times re-run per report after downtime; older ones: status missed
    tick_batch_size: int = 1000  # due definitions handled per sensor tick (the rest on the next tick)
    pending_window_hours: int = 24  # pending executions re-requested (idempotently) this long
    smtp_attempts: int = 4
    smtp_base_delay: float = 2.0
    stale_after_hours: int = 6  # a `running` execution without a Dagster run (CLI) is failed after this long
    backfill_confirm_above: int = (
        10  # backfills of more reports need the tag routines/confirm_report_count=<n>
    )

    @classmethod
    def from_env(cls) -> ReportsConfig:
        return cls(
            max_rows=env_int("ROUTINES_REPORTS_MAX_ROWS", 100_000, 1),
            max_bytes=env_int("ROUTINES_REPORTS_MAX_BYTES", 10_000_000, 1),
            query_timeout_seconds=env_int("ROUTINES_REPORTS_QUERY_TIMEOUT", 120, 1),
            catch_up_limit=env_int("ROUTINES_REPORTS_CATCH_UP_LIMIT", 3, 0),
            tick_batch_size=env_int("ROUTINES_REPORTS_TICK_BATCH", 1000, 1),
            pending_window_hours=env_int("ROUTINES_REPORTS_PENDING_WINDOW_HOURS", 24, 1),
            smtp_attempts=env_int("ROUTINES_REPORTS_SMTP_ATTEMPTS", 4, 1),
            smtp_base_delay=env_float("ROUTINES_REPORTS_SMTP_BACKOFF", 2.0),
            stale_after_hours=env_int("ROUTINES_REPORTS_STALE_HOURS", 6, 1),
            backfill_confirm_above=env_int("ROUTINES_REPORTS_BACKFILL_CONFIRM_ABOVE", 10, 0),
        )
