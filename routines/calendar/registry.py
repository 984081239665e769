"""Name -> Calendar: the built-in calendars and the company calendars (files, then the business database)."""

from __future__ import annotations

import threading
from functools import partial

from routines.calendar import sources
from routines.calendar.core import Calendar
from routines.errors import UserError

BUILTIN_DESCRIPTIONS = {
    "ANBIMA": "Calendário nacional ANBIMA: feriados nacionais, Carnaval (segunda e terça) e Corpus Christi",
    "B3": "Pregões da B3 (ações): ANBIMA + 24/12, último dia útil do ano e feriados paulistanos históricos",
    "BR": "Feriados nacionais (lei federal)",
}


class UnknownCalendarError(UserError, LookupError):
    """No calendar of that name."""


_cache: dict[str, Calendar] = {}
_lock = threading.RLock()
# Names being built, outermost first (under _lock): a company calendar's base chain, to catch a cycle.
_building: list[str] = []


def builtin_names() -> list[str]:
    return ["ANBIMA", "B3", "BR"] + [f"BR-{uf}" for uf in sources.subdivisions()]


def _builtin(name: str) -> Calendar | None:
    if name == "ANBIMA":
        return Calendar("ANBIMA", sources.anbima_year, description=BUILTIN_DESCRIPTIONS["ANBIMA"])
    if name == "B3":
        return Calendar("B3", sources.b3_year, description=BUILTIN_DESCRIPTIONS["B3"])
    if name == "BR":
        return Calendar("BR", sources.national_year, description=BUILTIN_DESCRIPTIONS["BR"])
    if name.startswith("BR-") and name[3:] in sources.subdivisions():
        uf = name[3:]
        return Calendar(
            name, partial(sources.state_year, uf), description=f"Feriados nacionais e estaduais ({uf})"
        )
    return None


def normalize_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise UnknownCalendarError("calendar name is empty")
    return name.strip().upper()


def get_calendar(name: str) -> Calendar:
    """The calendar called `name` (case-insensitive), cached: ANBIMA, B3, BR, BR-<UF>, or a company calendar
    from $ROUTINES_CALENDARS_DIR/<NAME>.toml or the business database (table business_calendars)."""
    key = normalize_name(name)
    calendar = _cache.get(key)
    if calendar is not None:
        return calendar
    with _lock:
        calendar = _cache.get(key)
        if calendar is None:
            calendar = _builtin(key)
            if calendar is None:
                from routines.calendar.company import load_company_calendar

                if key in _building:
                    chain = " -> ".join([*_building[_building.index(key) :], key])
                    raise UserError(f"company calendars form a cycle of bases: {chain}")
                _building.append(key)
                try:
                    calendar = load_company_calendar(key, resolve_base=get_calendar)
                finally:
                    _building.pop()
            if calendar is None:
                raise UnknownCalendarError(
                    f"unknown calendar {name!r}: use ANBIMA, B3, BR, BR-<UF> (e.g. BR-SP) "
                    "or a company calendar"
                )
            _cache[key] = calendar
        return calendar


def clear_calendar_cache() -> None:
    """Forget built calendars (e.g. after editing a company calendar); the next `get_calendar` rebuilds."""
    with _lock:
        _cache.clear()
