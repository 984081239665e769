"""Configuration read from environment variables (documented in the README's configuration table).

Only plain values live here: no connections are opened and nothing is computed at import time.
"""

from __future__ import annotations

import os
from pathlib import Path


def routines_home() -> Path:
    """Folder of the embedded defaults (SQLite database, file store, company calendars, local DAGSTER_HOME):
    ROUTINES_HOME, else the user's data folder (platformdirs: ~/.local/share/routines on Linux), whatever the
    current folder. `make run` and `make test` export ROUTINES_HOME=./.routines (git-ignored)."""
    configured = os.environ.get("ROUTINES_HOME", "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir("routines", appauthor=False)).resolve()


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


def executor() -> str:
    """Where the steps of a run execute: `multiprocess` (default, the run's own host) or `celery` (workers)."""
    return os.environ.get("ROUTINES_EXECUTOR", "").strip().lower() or "multiprocess"


def celery_queue() -> str:
    """The Celery queue the code location's steps go to and its workers listen on."""
    return os.environ.get("ROUTINES_CELERY_QUEUE", "").strip() or "routines"


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


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    """A decimal number setting; a bad value is a `UserError` naming the variable."""
    from routines.errors import UserError

    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r}: expected a number") from None
    if minimum is not None and value < minimum:
        raise UserError(f"{name}={raw}: must be >= {minimum:g}")
    return value


def env_cron(name: str, default: str) -> str:
    """A cron expression setting (5 fields, São Paulo time where schedules use it), checked with croniter."""
    from croniter import croniter

    from routines.errors import UserError

    value = " ".join(os.environ.get(name, "").split()) or default
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise UserError(f"{name}={value!r}: expected a 5-field cron expression such as '0 * * * *'")
    return value
