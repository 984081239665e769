"""Migration 0002_calendar: creates exactly the tables of the models, and reverts cleanly (SQLite, PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import inspect

from routines.calendar.models import BusinessCalendar, BusinessCalendarDay
from routines.database import migrate
from routines.database.engine import get_engine


def test_upgrade_creates_the_model_tables_and_downgrade_drops_them(empty_db_url):
    migrate.upgrade(empty_db_url, "0002_calendar")
    assert migrate.current_revision(empty_db_url) == "0002_calendar"
    engine = get_engine(empty_db_url)
    inspector = inspect(engine)
    for model in (BusinessCalendar, BusinessCalendarDay):
        table = model.__table__
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(columns) == {c.name for c in table.columns}
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, (table.name, column.name)
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("business_calendar_days")}
    assert ("calendar_id", "day") in uniques
    foreign = inspector.get_foreign_keys("business_calendars")
    assert foreign[0]["referred_table"] == "companies"
    migrate.downgrade(empty_db_url, "0001_platform")
    engine.dispose()
    remaining = set(inspect(get_engine(empty_db_url)).get_table_names())
    assert "business_calendars" not in remaining and "business_calendar_days" not in remaining
    assert "companies" in remaining
