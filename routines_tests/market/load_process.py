"""One materialization of `b3_quotes` for one session, in its own process, on the on-disk Dagster instance of
$DAGSTER_HOME (as a run worker does it). Used by the concurrency tests:

    python -m routines_tests.market.load_process DATABASE_URL FILE_STORE_ROOT YYYY-MM-DD

Exit status 0 when the run succeeded, 1 when it failed (its error on stderr).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import dagster as dg

    from routines.defs.market.b3 import b3_quotes
    from routines.lib.resources import BusinessCalendarResource, DatabaseResource, FileStoreResource

    database_url, store_root, day = argv
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            [b3_quotes],
            partition_key=day,
            instance=instance,
            resources={
                "database": DatabaseResource(url=database_url),
                "file_store": FileStoreResource(root=store_root),
                "b3_calendar": BusinessCalendarResource(name="B3"),
            },
            raise_on_error=False,
        )
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE":
                print(event.event_specific_data.error.message, file=sys.stderr)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
