"""Business-day calendars (pure: no Dagster). Start with `get_calendar("ANBIMA")`."""

from routines.calendar.core import CONVENTIONS, Calendar, DayGroup
from routines.calendar.registry import UnknownCalendarError, builtin_names, clear_calendar_cache, get_calendar

__all__ = [
    "CONVENTIONS",
    "Calendar",
    "DayGroup",
    "UnknownCalendarError",
    "builtin_names",
    "clear_calendar_cache",
    "get_calendar",
]
