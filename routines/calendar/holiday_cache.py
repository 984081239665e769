"""Raw Brazilian holidays from the `holidays` package, cached in memory and on disk.

Importing `holidays` costs about half a second (it imports every country), far too much for a Dagster code
location that builds business-day partitions at load. So the raw rows the calendars need - (date, pt-BR name,
category) per subdivision and year - are kept in a small JSON file keyed by the installed `holidays` version:
``$ROUTINES_CALENDAR_CACHE_DIR`` (default ``$ROUTINES_HOME/cache``), file
``calendar-holidays-<version>.json``. The file is only a cache of what the package computes (delete it at
will; ``off`` disables it); upgrading `holidays` starts a new file. Years are computed in blocks of 20 on
first use.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from datetime import date
from pathlib import Path

from routines import settings

CACHE_FORMAT = 1
BLOCK_YEARS = 20
CATEGORIES = ("public", "optional")

Row = tuple[date, str, str]

_lock = threading.RLock()
_memory: dict[str, tuple[Row, ...]] = {}
_loaded_from: Path | None = None
_disk_loaded = False


def _holidays_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("holidays")
    except PackageNotFoundError:  # pragma: no cover - holidays is a dependency
        return "unknown"


def cache_file() -> Path | None:
    """The cache file in use, or None when disabled (ROUTINES_CALENDAR_CACHE_DIR=off)."""
    folder = os.environ.get("ROUTINES_CALENDAR_CACHE_DIR", "").strip()
    if folder.lower() == "off":
        return None
    root = Path(folder) if folder else settings.routines_home() / "cache"
    return root / f"calendar-holidays-{_holidays_version()}-f{CACHE_FORMAT}.json"


def _key(subdiv: str | None, year: int) -> str:
    return f"{subdiv or 'BR'}|{year}"


def _load_disk() -> None:
    global _disk_loaded, _loaded_from
    path = cache_file()
    if _disk_loaded and path == _loaded_from:
        return
    _disk_loaded, _loaded_from = True, path
    if path is None or not path.is_file():
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["entries"] if data.get("format") == CACHE_FORMAT else {}
        for key, rows in entries.items():
            _memory.setdefault(key, tuple((date.fromisoformat(d), n, c) for d, n, c in rows))
    except (OSError, ValueError, KeyError, TypeError):
        return  # a damaged cache is ignored and rewritten


def _save_disk() -> None:
    path = cache_file()
    if path is None:
        return
    payload = {
        "format": CACHE_FORMAT,
        "holidays_version": _holidays_version(),
        "entries": {k: [[d.isoformat(), n, c] for d, n, c in rows] for k, rows in sorted(_memory.items())},
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".calendar-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        return  # read-only home: work from memory only


def _compute_block(subdiv: str | None, first_year: int) -> None:
    import holidays

    years = range(first_year, first_year + BLOCK_YEARS)
    by_year: dict[int, list[Row]] = {year: [] for year in years}
    for category in CATEGORIES:
        part = holidays.country_holidays(
            "BR", subdiv=subdiv, years=years, categories=(category,), language="pt_BR"
        )
        for day in sorted(part):
            for name in part.get_list(day):
                by_year[day.year].append((day, name, category))
    for year, rows in by_year.items():
        _memory[_key(subdiv, year)] = tuple(sorted(rows))


def brazil_holidays(year: int, subdiv: str | None) -> tuple[Row, ...]:
    """(date, pt-BR name, "public"|"optional") of `holidays` Brazil (subdiv None: national)."""
    key = _key(subdiv, year)
    rows = _memory.get(key)
    if rows is not None:
        return rows
    with _lock:
        _load_disk()
        rows = _memory.get(key)
        if rows is None:
            _compute_block(subdiv, year - year % BLOCK_YEARS)
            _save_disk()
            rows = _memory[key]
        return rows


# The 26 states and the Federal District (the two-letter subdivisions of `holidays` Brazil; a test checks it).
BRAZIL_STATES = (
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA",
    "PB", "PE", "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO",
)  # fmt: skip


def brazil_subdivisions() -> tuple[str, ...]:
    return BRAZIL_STATES


def clear_memory() -> None:
    """Forget the in-memory rows (tests; the disk file stays)."""
    global _disk_loaded
    with _lock:
        _memory.clear()
        _disk_loaded = False
