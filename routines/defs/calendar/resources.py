"""The calendar resources every domain uses: `anbima_calendar` and `b3_calendar`."""

import dagster as dg

from routines.lib.resources import BusinessCalendarResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "anbima_calendar": BusinessCalendarResource(name="ANBIMA"),
            "b3_calendar": BusinessCalendarResource(name="B3"),
        }
    )
