"""Fixtures of the calendar tests."""

from __future__ import annotations

import pytest

from routines.calendar import clear_calendar_cache


@pytest.fixture(autouse=True)
def fresh_calendars(tmp_path, monkeypatch):
    """Company calendars come from a per-test folder; built calendars are forgotten between tests."""
    monkeypatch.setenv("ROUTINES_CALENDARS_DIR", str(tmp_path / "calendars"))
    clear_calendar_cache()
    yield
    clear_calendar_cache()
