"""Every retention and backup rule, read from environment variables when used (never at import).

| variable | default |
|---|---|
| ROUTINES_RETENTION_RUNS_DAYS | 90 (finished Dagster runs, with their event and compute logs) |
| ROUTINES_RETENTION_FAILED_RUNS_DAYS | 365 (failed runs are kept longer) |
| ROUTINES_RETENTION_MARKET_DAYS | keep (raw B3/CVM/price files: the source of reloads) |
| ROUTINES_RETENTION_INVOICES_DAYS | 1825 (and never while the invoice's process is not final) |
| ROUTINES_RETENTION_REPORTS_DAYS | 365 |
| ROUTINES_RETENTION_NOTIFICATIONS_DAYS | 90 (read notifications only) |
| ROUTINES_BACKUP_DIR | $ROUTINES_FILE_STORE_ROOT/backups |
| ROUTINES_BACKUP_KEEP_DAILY | 7 |
| ROUTINES_BACKUP_KEEP_MONTHLY | 12 |
| ROUTINES_PG_DUMP / ROUTINES_PG_RESTORE | pg_dump / pg_restore on PATH |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from routines import settings
from routines.errors import UserError

KEEP = "keep"
# `task_files/` is not here: the exports cleanup owns it (it also marks the tasks as no longer downloadable).
FILE_AREAS = ("market", "invoices", "reports")
AREA_DEFAULTS: dict[str, int | None] = {"market": None, "invoices": 1825, "reports": 365}


def _days_or_keep(name: str, default: int | None) -> int | None:
    """A number of days (>= 1), or `keep` (None): never remove."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in (KEEP, "never"):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r}: expected a number of days or 'keep'") from None
    if value < 1:
        raise UserError(f"{name}={value}: expected at least 1 day, or 'keep'")
    return value


def area_env(area: str) -> str:
    return f"ROUTINES_RETENTION_{area.upper()}_DAYS"


@dataclass(frozen=True)
class RetentionRules:
    runs_days: int = 90
    failed_runs_days: int = 365
    area_days: tuple[tuple[str, int | None], ...] = tuple(AREA_DEFAULTS.items())
    read_notifications_days: int | None = 90

    def days_for(self, area: str) -> int | None:
        return dict(self.area_days)[area]

    @classmethod
    def from_env(cls) -> RetentionRules:
        return cls(
            runs_days=settings.env_int("ROUTINES_RETENTION_RUNS_DAYS", 90, 1),
            failed_runs_days=settings.env_int("ROUTINES_RETENTION_FAILED_RUNS_DAYS", 365, 1),
            area_days=tuple(
                (area, _days_or_keep(area_env(area), AREA_DEFAULTS[area])) for area in FILE_AREAS
            ),
            read_notifications_days=_days_or_keep("ROUTINES_RETENTION_NOTIFICATIONS_DAYS", 90),
        )


@dataclass(frozen=True)
class BackupSettings:
    folder: Path
    keep_daily: int = 7
    keep_monthly: int = 12
    pg_dump: str = "pg_dump"
    pg_restore: str = "pg_restore"

    @classmethod
    def from_env(cls) -> BackupSettings:
        folder = os.environ.get("ROUTINES_BACKUP_DIR", "").strip()
        return cls(
            folder=Path(folder).resolve() if folder else settings.file_store_root() / "backups",
            keep_daily=settings.env_int("ROUTINES_BACKUP_KEEP_DAILY", 7, 1),
            keep_monthly=settings.env_int("ROUTINES_BACKUP_KEEP_MONTHLY", 12, 0),
            pg_dump=os.environ.get("ROUTINES_PG_DUMP", "").strip() or "pg_dump",
            pg_restore=os.environ.get("ROUTINES_PG_RESTORE", "").strip() or "pg_restore",
        )
