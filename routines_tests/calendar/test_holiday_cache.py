"""The on-disk cache of the `holidays` package's rows: used when warm, rebuilt when damaged, can be disabled."""

from __future__ import annotations

import json
import sys
from datetime import date

import pytest

from routines.calendar import holiday_cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ROUTINES_CALENDAR_CACHE_DIR", str(folder))
    holiday_cache.clear_memory()
    yield folder
    holiday_cache.clear_memory()


def test_warm_cache_answers_without_the_holidays_package(cache_dir, monkeypatch):
    rows = holiday_cache.brazil_holidays(2025, None)
    assert (date(2025, 3, 3), "Carnaval", "optional") in rows
    assert (date(2025, 4, 21), "Tiradentes", "public") in rows
    path = holiday_cache.cache_file()
    assert path.parent == cache_dir and path.is_file()
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["holidays_version"] in path.name
    assert "BR|2039" in payload["entries"]  # computed in a block of 20 years

    holiday_cache.clear_memory()
    monkeypatch.setitem(sys.modules, "holidays", None)  # any import of holidays would now fail
    assert holiday_cache.brazil_holidays(2025, None) == rows
    with pytest.raises(ImportError):
        holiday_cache.brazil_holidays(2025, "SP")  # not cached: needs the package


def test_damaged_cache_is_ignored_and_rewritten(cache_dir):
    path = holiday_cache.cache_file()
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    assert (date(2024, 11, 20), "Dia Nacional de Zumbi e da Consciência Negra", "public") in (
        holiday_cache.brazil_holidays(2024, None)
    )
    assert "BR|2024" in json.loads(path.read_text(encoding="utf-8"))["entries"]


def test_cache_can_be_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("ROUTINES_CALENDAR_CACHE_DIR", "off")
    holiday_cache.clear_memory()
    try:
        assert holiday_cache.cache_file() is None
        assert holiday_cache.brazil_holidays(2030, None)
        assert not any(tmp_path.rglob("calendar-holidays-*.json"))
    finally:
        holiday_cache.clear_memory()
