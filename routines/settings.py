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
