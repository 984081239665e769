"""The named calendars against independent oracles: bizdays' ANBIMA.cal / B3.cal, holidays' BVMF calendar
and the shared reference files. Every year, every weekday."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from routines.calendar import get_calendar
from routines.calendar.core import Calendar
from routines.calendar.holiday_cache import BRAZIL_STATES

SHARED_CALENDARS = Path(__file__).resolve().parents[3] / "shared" / "data" / "calendars"


def weekdays_of(year: int) -> list[date]:
    day, result = date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5:
            result.append(day)
        day += timedelta(days=1)
    return result


def closed_weekdays(calendar: Calendar, year: int) -> set[date]:
    return {d for d in weekdays_of(year) if not calendar.is_business_day(d)}


def bizdays_holidays(name: str) -> set[date]:
    bizdays = pytest.importorskip("bizdays")
    return set(bizdays.Calendar.load(name).holidays)


def shared_file(name: str) -> dict[date, str]:
    path = SHARED_CALENDARS / name
    if not path.is_file():
        pytest.skip(f"{path} absent (shared reference data not beside this clone)")
    result = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line[:1].isdigit():
            day, _, rest = line.partition(" ")
            result[date.fromisoformat(day)] = rest.strip()
    return result


@pytest.fixture(scope="module")
def anbima_oracle() -> set[date]:
    return bizdays_holidays("ANBIMA")


@pytest.mark.parametrize("year", range(2001, 2079))
def test_anbima_equals_bizdays_every_year(year, anbima_oracle):
    anbima = get_calendar("ANBIMA")
    expected = {d for d in anbima_oracle if d.year == year}
    # the whole list, weekend holidays included (ANBIMA lists them too)
    assert {d for d, _ in anbima.holidays(year)} == expected
    assert closed_weekdays(anbima, year) == {d for d in expected if d.weekday() < 5}


def test_anbima_reference_file_and_counts():
    anbima = get_calendar("ANBIMA")
    listed = shared_file("anbima_holidays_2020_2027.txt")
    counts = {2020: 251, 2021: 251, 2022: 251, 2023: 249, 2024: 253, 2025: 252, 2026: 249, 2027: 251}
    for year, count in counts.items():
        assert {d for d, _ in anbima.holidays(year)} == {d for d in listed if d.year == year}
        assert len(anbima.business_days_of_year(year)) == count
        assert anbima.business_days_between(date(year, 1, 1), date(year + 1, 1, 1)) == count


def test_anbima_rules_and_pt_br_names():
    anbima = get_calendar("ANBIMA")
    assert anbima.holiday_name(date(2025, 3, 3)) == "Carnaval"
    assert anbima.holiday_name(date(2025, 3, 4)) == "Carnaval"
    assert anbima.is_business_day(date(2025, 3, 5))  # Ash Wednesday
    assert anbima.holiday_name(date(2025, 6, 19)) == "Corpus Christi"
    assert anbima.holiday_name(date(2025, 4, 18)) == "Sexta-feira Santa"
    assert anbima.is_business_day(date(2025, 12, 24)) and anbima.is_business_day(date(2025, 12, 31))
    # Nov 20 is national from 2024 only
    assert anbima.is_business_day(date(2023, 11, 20))
    assert anbima.holiday_name(date(2024, 11, 20)) == "Dia Nacional de Zumbi e da Consciência Negra"
    assert anbima.closed_reason(date(2025, 3, 8)) == "sábado"
    assert anbima.closed_reason(date(2025, 3, 9)) == "domingo"
    assert anbima.closed_reason(date(2025, 3, 5)) is None


@pytest.fixture(scope="module")
def b3_oracle() -> set[date]:
    return bizdays_holidays("B3")


@pytest.mark.parametrize("year", range(2010, 2025))
def test_b3_equals_bizdays_sessions_2010_2024(year, b3_oracle):
    # bizdays' B3.cal covers 2000-2024
    expected = {d for d in b3_oracle if d.year == year and d.weekday() < 5}
    assert closed_weekdays(get_calendar("B3"), year) == expected


def test_b3_equals_holidays_bvmf_calendar_2022_on():
    # holidays' BVMF calendar lacks the São Paulo closures before 2022 (our documented overrides)
    import holidays

    b3 = get_calendar("B3")
    years = range(2022, 2079)
    bvmf = holidays.financial_holidays("BVMF", years=years)
    for year in years:
        expected = {d for d in bvmf if d.year == year and d.weekday() < 5}
        assert closed_weekdays(b3, year) == expected, year


def test_b3_reference_file_and_session_counts():
    b3 = get_calendar("B3")
    listed = shared_file("b3_closed_weekdays_2023_2025.txt")
    for year, sessions in {2023: 248, 2024: 251, 2025: 250}.items():
        assert closed_weekdays(b3, year) == {d for d in listed if d.year == year}
        assert len(b3.business_days_of_year(year)) == sessions


def test_b3_overrides():
    b3 = get_calendar("B3")
    # Ash Wednesday: late open, a trading day
    for ash in (date(2023, 2, 22), date(2024, 2, 14), date(2025, 3, 5)):
        assert b3.is_business_day(ash)
    assert b3.holiday_name(date(2025, 12, 24)) == "Véspera de Natal"
    assert b3.holiday_name(date(2025, 12, 31)) == "Último dia útil do ano"
    assert b3.holiday_name(date(2022, 12, 30)) == "Último dia útil do ano"  # Dec 31 2022 was a Saturday
    assert b3.holiday_name(date(2015, 12, 31)) == "Último dia útil do ano"  # before B3's 2018 circular too
    # São Paulo holidays: closed up to 2021, open afterwards; 2020 moved Jul 9 and Nov 20 (open)
    assert b3.holiday_name(date(2021, 1, 25)) == "Aniversário da Cidade de São Paulo"
    assert b3.is_business_day(date(2022, 1, 25))
    assert b3.holiday_name(date(2019, 7, 9)) == "Revolução Constitucionalista"
    assert b3.is_business_day(date(2020, 7, 9))
    assert b3.holiday_name(date(2019, 11, 20)) == "Consciência Negra"
    assert b3.is_business_day(date(2020, 11, 20)) and b3.is_business_day(date(2023, 11, 20))
    assert b3.holiday_name(date(2024, 11, 20)) == "Dia Nacional de Zumbi e da Consciência Negra"
    assert b3.holiday_name(date(2014, 6, 12)) == "Jogo do Brasil na abertura da Copa do Mundo"


def test_national_and_state_calendars():
    br, sp, rj = get_calendar("BR"), get_calendar("BR-SP"), get_calendar("br-rj")
    assert br.is_business_day(date(2025, 3, 3))  # Carnival is not a national public holiday
    assert br.is_business_day(date(2025, 6, 19))  # nor Corpus Christi
    assert br.holiday_name(date(2025, 4, 21)) == "Tiradentes"
    assert sp.holiday_name(date(2025, 7, 9)) == "Revolução Constitucionalista"
    assert br.is_business_day(date(2025, 7, 9)) and rj.is_business_day(date(2025, 7, 9))
    assert rj.holiday_name(date(2025, 4, 23)) == "São Jorge"
    assert set(br.holidays(2025)) < set(sp.holidays(2025))


def test_state_list_matches_holidays_package():
    import holidays

    assert set(BRAZIL_STATES) == {s for s in holidays.Brazil.subdivisions if len(s) == 2}
    for uf in BRAZIL_STATES:
        assert get_calendar(f"BR-{uf}").name == f"BR-{uf}"


def test_get_calendar_is_cached_and_lazy():
    anbima = get_calendar("ANBIMA")
    assert get_calendar("anbima") is anbima
    assert anbima._years == {}  # noqa: SLF001 - nothing computed before use
    anbima.is_business_day(date(2031, 5, 2))
    assert set(anbima._years) == {2031}  # noqa: SLF001
