"""Where the holidays of the named calendars come from: the `holidays` package, plus documented overrides.

Every function here returns the closed days of ONE year as ``{date: name}`` (names in pt-BR) and is only
called when a calendar first needs that year (see `Calendar`). The raw data of the `holidays` package is read
through `routines.calendar.holiday_cache`, which keeps it on disk so that a code location does not pay the
(slow) import of the `holidays` package at every load.

Rules (tested year by year against bizdays' ANBIMA.cal / B3.cal, holidays' BVMF calendar and the shared data):

- ``BR``: national public holidays (`holidays` Brazil, category ``public``).
- ``BR-XX``: national + state public holidays of the state XX (`holidays` Brazil with ``subdiv="XX"``).
- ``ANBIMA``: ``BR`` + Carnival Monday and Tuesday + Corpus Christi (category ``optional`` of `holidays`
  Brazil). Equal to ANBIMA's own list 2001-2078; Ash Wednesday, Dec 24 and Dec 31 are business days.
- ``B3``: ``ANBIMA`` + Dec 24 + the last weekday of the year (B3's year-end closure) + the overrides below.
"""

from __future__ import annotations

from datetime import date, timedelta

from routines.calendar.holiday_cache import brazil_holidays

# Names used by the rules below (pt-BR, as B3 itself names them).
CHRISTMAS_EVE = "Véspera de Natal"
YEAR_END_CLOSURE = "Último dia útil do ano"
WORLD_CUP_2014 = "Jogo do Brasil na abertura da Copa do Mundo"

ANBIMA_OPTIONAL = ("Carnaval", "Corpus Christi")

# --- B3 overrides (hand-written: the `holidays` package has no history of these exchange closures)
# --------------- São Paulo city/state holidays on which B3 closed: from the `holidays` subdivision "São
# Paulo Capital" (Jan 25 "Aniversário da Cidade de São Paulo", Jul 9 "Revolução Constitucionalista", Nov 20
# "Consciência Negra"). B3 traded on them from 2022 on; in 2020 the city/state moved Jul 9 and Nov 20
# (COVID-19 anticipation of holidays) and B3 traded on both dates. Nov 20 is a municipal holiday of São Paulo
# since 2004 and national since 2024 (then it comes from `BR`).
SAO_PAULO_CITY = "São Paulo Capital"
B3_SAO_PAULO_CLOSURES: dict[tuple[int, int], tuple[int, int, frozenset[int]]] = {
    # (month, day): (first year, last year, years the exchange opened anyway)
    (1, 25): (1900, 2021, frozenset()),
    (7, 9): (1900, 2021, frozenset({2020})),
    (11, 20): (2004, 2021, frozenset({2020})),
}
# One-off closures decided by B3 (Ofício Circular), not derivable from any holiday law.
B3_EXTRA_CLOSED: dict[date, str] = {
    date(2014, 6, 12): WORLD_CUP_2014,
}
# Days the `holidays` rules would close but B3 opened (none known from 2001 on).
B3_EXTRA_OPEN: dict[date, str] = {}


def _add(target: dict[date, str], day: date, name: str) -> None:
    current = target.get(day)
    if current is None:
        target[day] = name
    elif name not in current.split("; "):
        target[day] = f"{current}; {name}"


def national_year(year: int) -> dict[date, str]:
    """``BR``: national public holidays."""
    result: dict[date, str] = {}
    for day, name, category in brazil_holidays(year, None):
        if category == "public":
            _add(result, day, name)
    return result


def state_year(subdiv: str, year: int) -> dict[date, str]:
    """``BR-XX``: national and state public holidays."""
    result: dict[date, str] = {}
    for day, name, category in brazil_holidays(year, subdiv):
        if category == "public":
            _add(result, day, name)
    return result


def anbima_year(year: int) -> dict[date, str]:
    """``ANBIMA``: national holidays + Carnival (Monday and Tuesday) + Corpus Christi."""
    result: dict[date, str] = {}
    for day, name, category in brazil_holidays(year, None):
        if category == "public" or name in ANBIMA_OPTIONAL:
            _add(result, day, name)
    return result


def last_weekday_of_year(year: int) -> date:
    day = date(year, 12, 31)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def b3_year(year: int) -> dict[date, str]:
    """``B3``: days without an equities trading session (weekends aside)."""
    result = anbima_year(year)
    _add(result, date(year, 12, 24), CHRISTMAS_EVE)
    # The last weekday of the year has no session; when it is also a holiday nothing changes.
    _add(result, last_weekday_of_year(year), YEAR_END_CLOSURE)
    for day, name, category in brazil_holidays(year, SAO_PAULO_CITY):
        rule = B3_SAO_PAULO_CLOSURES.get((day.month, day.day))
        if category == "public" and rule and rule[0] <= year <= rule[1] and year not in rule[2]:
            _add(result, day, name)
    for day, name in B3_EXTRA_CLOSED.items():
        if day.year == year:
            _add(result, day, name)
    for day in B3_EXTRA_OPEN:
        if day.year == year:
            result.pop(day, None)
    return result


def subdivisions() -> tuple[str, ...]:
    """The two-letter states of `holidays` Brazil (for ``BR-XX`` names)."""
    from routines.calendar.holiday_cache import brazil_subdivisions

    return brazil_subdivisions()
