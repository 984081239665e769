"""The `routines` code location: merges every domain and applies cross-cutting policy once.

Resources are chosen by ROUTINES_ENV: `local` (default; embedded SQLite and `.routines/files` unless the
env vars say otherwise) or `production` (ROUTINES_DATABASE_URL and ROUTINES_FILE_STORE_ROOT are required).
Nothing here opens a connection or computes a calendar: the webserver, the daemon and every run import it.
"""

from __future__ import annotations

import dagster as dg

from routines import settings
from routines.calendar.definitions import defs as calendar_defs
from routines.invoices.definitions import defs as invoices_defs
from routines.market.definitions import defs as market_defs
from routines.reports.definitions import defs as reports_defs
from routines.resources import DatabaseResource, FileStoreResource


def shared_resources(environment: str) -> dict[str, object]:
    if environment == "production":
        return {
            "database": DatabaseResource(url=dg.EnvVar("ROUTINES_DATABASE_URL")),
            "file_store": FileStoreResource(root=dg.EnvVar("ROUTINES_FILE_STORE_ROOT")),
        }
    if environment == "local":
        return {"database": DatabaseResource(), "file_store": FileStoreResource()}
    raise ValueError(f"ROUTINES_ENV={environment!r}: expected 'local' or 'production'")


defs = dg.Definitions.merge(
    calendar_defs,
    market_defs,
    invoices_defs,
    reports_defs,
    dg.Definitions(resources=shared_resources(settings.environment())),
)
