"""Dagster definitions of the calendar domain: the calendar resources other domains use."""

import dagster as dg

from routines.calendar.resource import BusinessCalendarResource

defs = dg.Definitions(
    resources={
        "anbima_calendar": BusinessCalendarResource(name="ANBIMA"),
        "b3_calendar": BusinessCalendarResource(name="B3"),
    }
)
