"""Alembic, driven from code: `routines db upgrade` and the tests call these functions."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from routines import settings

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # '%' must be doubled for ConfigParser interpolation (URL-encoded options such as %3D).
    config.set_main_option("sqlalchemy.url", (url or settings.database_url()).replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Apply the migrations; the one action that may create the embedded SQLite file."""
    config = alembic_config(url)
    config.attributes["create"] = True
    command.upgrade(config, revision)


def downgrade(url: str | None, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str | None = None) -> str | None:
    from routines.database.engine import get_engine

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def database_status(url: str | None = None) -> tuple[str | None, str]:
    """(problem, description) of the business database: problem is None when it is reachable and at the head
    revision, else one line that says what to do. Creates nothing."""
    from sqlalchemy.exc import DBAPIError

    from routines.database.engine import describe_url, sqlite_file

    resolved = url or settings.database_url()
    shown = describe_url(resolved)
    file = sqlite_file(resolved)
    if file is not None and not file.exists():
        return f"database {shown} does not exist: run `routines db upgrade`", "does not exist"
    try:
        revision = current_revision(resolved)
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig).split()) or type(exc.orig).__name__
        return f"cannot connect to database {shown}: {reason}", "unreachable"
    head = head_revision()
    if revision is None:
        return f"database {shown} is empty: run `routines db upgrade`", "empty"
    if revision != head:
        return (
            f"database {shown} is at revision {revision}, this version needs {head}: run `routines db upgrade`",
            f"{revision} (behind {head})",
        )
    return None, f"{revision} (head)"
