"""Company calendars: from a TOML file or the business database (migrated, SQLite and PostgreSQL), demo seed."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from routines.calendar import clear_calendar_cache, get_calendar
from routines.calendar.company import read_calendar_file, upsert_calendar_day
from routines.calendar.demo import seed_demo
from routines.calendar.models import BusinessCalendar, BusinessCalendarDay
from routines.companies.demo import seed_demo as seed_companies
from routines.companies.models import Company
from routines.database.engine import session_scope
from routines.errors import InputFileError, UserError


def write_calendar(folder, name: str, text: str):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_calendar_adds_closed_and_open_days(tmp_path):
    write_calendar(
        tmp_path / "calendars",
        "beg",
        'base = "ANBIMA"\n'
        'description = "Calendário BEG"\n'
        "[closed]\n"
        '2025-12-26 = "Recesso de fim de ano"\n'
        "[open]\n"
        '2025-11-20 = "Expediente normal"\n'
        '2025-11-29 = "Inventário (sábado)"\n',
    )
    beg = get_calendar("BEG")
    assert beg.name == "BEG" and beg.description == "Calendário BEG"
    assert beg.closed_reason(date(2025, 12, 26)) == "Recesso de fim de ano"
    assert beg.is_business_day(date(2025, 11, 20))  # national holiday, but the company works
    assert beg.is_business_day(date(2025, 11, 29))  # Saturday opened
    assert beg.closed_reason(date(2025, 3, 3)) == "Carnaval"  # base holidays stay
    assert (date(2025, 11, 20), "Dia Nacional de Zumbi e da Consciência Negra") not in beg.holidays(2025)
    assert (date(2025, 12, 26), "Recesso de fim de ano") in beg.holidays(2025)
    anbima = get_calendar("ANBIMA")
    assert anbima.business_days_between(date(2025, 11, 1), date(2026, 1, 1)) + 2 - 1 == (
        beg.business_days_between(date(2025, 11, 1), date(2026, 1, 1))
    )
    # batch operations see the open Saturday (7-day week mask) and agree with the scalar ones
    days = [date(2025, 11, d) for d in range(17, 31)]
    assert beg.is_business_day_many(days).tolist() == [beg.is_business_day(d) for d in days]
    assert beg.offset(date(2025, 11, 28), 1) == date(2025, 11, 29)
    assert beg.offset_many([date(2025, 11, 28)], 1)[0].item() == date(2025, 11, 29)
    assert beg.nth_business_day(2025, 11, -1) == date(2025, 11, 29)


def test_company_calendar_on_top_of_another_company_calendar(tmp_path):
    folder = tmp_path / "calendars"
    write_calendar(folder, "BEG", 'base = "B3"\n[closed]\n2025-07-09 = "Feriado interno"\n')
    write_calendar(folder, "BEG-SP", 'base = "BEG"\n[closed]\n2025-01-24 = "Ponte"\n')
    branch = get_calendar("beg-sp")
    assert branch.closed_reason(date(2025, 7, 9)) == "Feriado interno"
    assert branch.closed_reason(date(2025, 1, 24)) == "Ponte"
    assert branch.closed_reason(date(2025, 12, 24)) == "Véspera de Natal"


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ('description = "x"\n', None, "base", "missing base calendar"),
        ('base = "ANBIMA"\n[closed]\n2025-13-01 = "x"\n', 3, "closed", "invalid date '2025-13-01'"),
        ('base = "ANBIMA"\n[closed\n', 2, None, "invalid TOML"),
        ('base = "ANBIMA"\n[closed]\n"2025-02-30" = "x"\n', 3, "closed", "invalid date '2025-02-30'"),
        ('base = "ANBIMA"\n[open]\n2025-03-01 = ""\n', 3, "open.2025-03-01", "reason must be"),
        ('base = "ANBIMA"\ncolour = "blue"\n', 2, "colour", "unknown field"),
        (
            'base = "ANBIMA"\n[closed]\n2025-03-01 = "a"\n[open]\n2025-03-01 = "b"\n',
            None,
            "open",
            "both closed",
        ),
    ],
)
def test_bad_calendar_files_name_file_line_and_field(tmp_path, text, line, field, message):
    path = write_calendar(tmp_path / "calendars", "BAD", text)
    with pytest.raises(InputFileError) as caught:
        read_calendar_file(path)
    error = caught.value
    assert error.file == str(path)
    assert message in str(error)
    if line is not None:
        assert error.line == line
    if field is not None:
        assert error.field == field
    with pytest.raises(UserError):
        get_calendar("BAD")


def test_unknown_base_and_self_base(tmp_path):
    folder = tmp_path / "calendars"
    write_calendar(folder, "LOOP", 'base = "LOOP"\n')
    write_calendar(folder, "ORPHAN", 'base = "NOPE"\n')
    with pytest.raises(UserError, match="own base"):
        get_calendar("LOOP")
    with pytest.raises(UserError, match="unknown calendar 'NOPE'"):
        get_calendar("ORPHAN")


def test_bases_that_form_a_cycle_are_named_in_one_line(tmp_path):
    folder = tmp_path / "calendars"
    write_calendar(folder, "ALFA", 'base = "BETA"\n')
    write_calendar(folder, "BETA", 'base = "GAMA"\n')
    write_calendar(folder, "GAMA", 'base = "ALFA"\n')
    write_calendar(folder, "DELTA", 'base = "BETA"\n')
    with pytest.raises(UserError) as info:
        get_calendar("ALFA")
    assert str(info.value) == "company calendars form a cycle of bases: ALFA -> BETA -> GAMA -> ALFA"
    with pytest.raises(UserError, match="cycle of bases: BETA -> GAMA -> ALFA -> BETA$"):
        get_calendar("DELTA")  # leads into the cycle
    write_calendar(folder, "GAMA", 'base = "B3"\n')  # the cycle broken, the chain builds
    assert get_calendar("ALFA").closed_reason(date(2025, 12, 24)) is not None


def test_database_calendar_and_demo_seed_are_idempotent(engine):
    with session_scope(engine) as session:
        # calendars first, companies after: the seed looks the companies up and links them on the next run
        first = seed_demo(session)
    assert first == 7  # 2 calendars + 5 days
    with session_scope(engine) as session:
        assert seed_companies(session) == 7  # 2 companies and their 5 demo users
        assert seed_demo(session) == 0
    with session_scope(engine) as session:
        assert seed_demo(session) == 0
        assert session.scalar(select(func.count()).select_from(BusinessCalendarDay)) == 5
        beg = session.scalars(select(BusinessCalendar).where(BusinessCalendar.name == "BEG")).one()
        company = session.scalars(select(Company).where(Company.code == "BEG")).one()
        assert beg.company_id == company.id and beg.base_calendar == "ANBIMA"
    clear_calendar_cache()
    beg_calendar = get_calendar("BEG")
    assert beg_calendar.closed_reason(date(2025, 12, 26)) == "Recesso de fim de ano"
    assert beg_calendar.is_business_day(date(2026, 11, 28))  # inventory Saturday
    assert get_calendar("ACME").closed_reason(date(2026, 7, 10)) == "Mudança de escritório"
    assert get_calendar("ACME").closed_reason(date(2026, 12, 24)) == "Véspera de Natal"  # base B3


def test_upsert_validates_and_updates(engine):
    with session_scope(engine) as session:
        with pytest.raises(UserError, match="give its base"):
            upsert_calendar_day(session, "NEWCO", date(2025, 5, 2), "closed", "Ponte")
        with pytest.raises(UserError, match="unknown base"):
            upsert_calendar_day(session, "NEWCO", date(2025, 5, 2), "closed", "Ponte", base="XPTO")
        with pytest.raises(UserError, match="invalid status"):
            upsert_calendar_day(session, "NEWCO", date(2025, 5, 2), "shut", "Ponte", base="ANBIMA")
        assert upsert_calendar_day(session, "NEWCO", date(2025, 5, 2), "closed", "Ponte", base="BR-SP") == 2
        assert upsert_calendar_day(session, "NEWCO", date(2025, 5, 2), "closed", "Ponte de feriado") == 0
    clear_calendar_cache()
    newco = get_calendar("NEWCO")
    assert newco.closed_reason(date(2025, 5, 2)) == "Ponte de feriado"
    assert newco.closed_reason(date(2025, 7, 9)) == "Revolução Constitucionalista"


def test_missing_database_is_not_created(routines_home):
    with pytest.raises(UserError, match="unknown calendar"):
        get_calendar("NOBODY")
    assert not (routines_home / "routines.db").exists()
