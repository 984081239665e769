"""The `routines` code location: merges every domain and applies cross-cutting policy once.

Resources are chosen by ROUTINES_ENV: `local` (default; embedded SQLite and `.routines/files` unless the
env vars say otherwise) or `production` (ROUTINES_DATABASE_URL and ROUTINES_FILE_STORE_ROOT are required).
Nothing here opens a connection or computes a calendar: the webserver, the daemon and every run import it.
"""

from __future__ import annotations

import dagster as dg

from routines import settings
from routines.calendar import definitions as calendar_domain
from routines.invoices import definitions as invoices_domain
from routines.market import definitions as market_domain
from routines.notifications import definitions as notifications_domain
from routines.reports import definitions as reports_domain
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


# Domain modules, not their `defs` objects, are imported: Dagster accepts one Definitions at module scope.
defs = dg.Definitions.merge(
    calendar_domain.defs,
    market_domain.defs,
    invoices_domain.defs,
    reports_domain.defs,
    notifications_domain.defs,
    dg.Definitions(resources=shared_resources(settings.environment())),
)
