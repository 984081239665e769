"""Dagster resource exposing a named business-day calendar to assets, schedules and sensors (thin glue)."""

from __future__ import annotations

import dagster as dg

from routines.calendar.core import Calendar


class BusinessCalendarResource(dg.ConfigurableResource):
    """A named calendar: ANBIMA, B3, BR, BR-<UF> or a company calendar (`routines.calendar.get_calendar`)."""

    name: str = "ANBIMA"

    @property
    def calendar(self) -> Calendar:
        from routines.calendar.registry import get_calendar

        return get_calendar(self.name)
