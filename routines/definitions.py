"""The `routines` code location: the one entry point.

It loads every domain's Dagster glue from the autoloaded `routines/defs/` folder, picks the shared resources
by environment (ROUTINES_ENV: `local`, the embedded SQLite and file store, or `production`, where
ROUTINES_DATABASE_URL and ROUTINES_FILE_STORE_ROOT are required), picks where steps execute (ROUTINES_EXECUTOR:
`multiprocess` or `celery` workers, see `routines.lib.executors`) and applies cross-cutting policy once (the
`deadline` asset check of every asset declaring a business-day deadline, see `routines.defs.alerts`).
Nothing here opens a connection or computes a calendar at import: the webserver, the daemon and every run
import it.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from routines import settings
from routines.lib.executors import step_executor
from routines.lib.resources import DatabaseResource, FileStoreResource


def shared_resources(environment: str) -> dict[str, object]:
    if environment == "production":
        return {
            "database": DatabaseResource(url=dg.EnvVar("ROUTINES_DATABASE_URL")),
            "file_store": FileStoreResource(root=dg.EnvVar("ROUTINES_FILE_STORE_ROOT")),
        }
    if environment == "local":
        return {"database": DatabaseResource(), "file_store": FileStoreResource()}
    raise ValueError(f"ROUTINES_ENV={environment!r}: expected 'local' or 'production'")


@dg.definitions
def defs() -> dg.Definitions:
    from routines.defs.alerts.catch_up import catch_up_definitions
    from routines.defs.alerts.deadlines import deadline_checks

    domains = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    shared = dg.Definitions(
        resources=shared_resources(settings.environment()),
        executor=step_executor(settings.executor()),
        # the `deadline` check of every asset declaring `routines/deadline` (metadata), whatever its domain
        asset_checks=deadline_checks(domains),
    )
    # the catch-up jobs and sensor of the assets tagged `routines/catch_up_lookback`
    return dg.Definitions.merge(domains, shared, catch_up_definitions(domains))
