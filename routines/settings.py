"""Configuration read from environment variables (documented in the README's configuration table).

Only plain values live here: no connections are opened and nothing is computed at import time.
"""

from __future__ import annotations

import os
from pathlib import Path


def routines_home() -> Path:
    """Local folder for the embedded defaults (SQLite database, file store); git-ignored."""
    return Path(os.environ.get("ROUTINES_HOME") or Path.cwd() / ".routines").resolve()


def database_url() -> str:
    """Business database URL; the embedded SQLite file when ROUTINES_DATABASE_URL is unset."""
    url = os.environ.get("ROUTINES_DATABASE_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{routines_home() / 'routines.db'}"


def file_store_root() -> Path:
    """Root folder of the file store (downloaded files, generated reports)."""
    root = os.environ.get("ROUTINES_FILE_STORE_ROOT", "").strip()
    return Path(root).resolve() if root else routines_home() / "files"


def environment() -> str:
    """`local` (default) or `production`; selects resources in `routines.definitions`."""
    return os.environ.get("ROUTINES_ENV", "local").strip().lower() or "local"


def env_int(name: str, default: int, minimum: int = 0) -> int:
    """An integer setting; a bad value is a `UserError` naming the variable."""
    from routines.errors import UserError

    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r}: expected an integer") from None
    if value < minimum:
        raise UserError(f"{name}={value}: must be >= {minimum}")
    return value


def env_cron(name: str, default: str) -> str:
    """A cron expression setting (5 fields, São Paulo time where schedules use it), checked with croniter."""
    from croniter import croniter

    from routines.errors import UserError

    value = " ".join(os.environ.get(name, "").split()) or default
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise UserError(f"{name}={value!r}: expected a 5-field cron expression such as '0 * * * *'")
    return value
