"""Fixtures every domain's tests use: business databases (SQLite always, PostgreSQL when reachable), an
isolated ROUTINES_HOME, and the Dagster instance for tests.

PostgreSQL: ROUTINES_TEST_POSTGRES_URL (default postgresql+psycopg2://postgres@127.0.0.1:5432/test). Each test
gets its own throwaway schema (dropped afterwards). With CI=true an unreachable server fails the test instead of
skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("ROUTINES_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _postgres_unavailable(reason: str) -> None:
    message = f"PostgreSQL at {make_url(postgres_admin_url()).render_as_string(hide_password=True)}: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: PostgreSQL is required)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def routines_home(tmp_path, monkeypatch) -> Iterator[os.PathLike]:
    """Every test runs with its own ROUTINES_HOME; no test reads the developer's .routines folder."""
    home = tmp_path / "routines_home"
    monkeypatch.setenv("ROUTINES_HOME", str(home))
    monkeypatch.delenv("ROUTINES_DATABASE_URL", raising=False)
    monkeypatch.delenv("ROUTINES_FILE_STORE_ROOT", raising=False)
    monkeypatch.setenv("ROUTINES_ENV", "local")
    yield home


@pytest.fixture(autouse=True)
def isolated_dagster_context():
    """Dagster keeps the current instance's state storage in a context variable. A schedule or sensor context
    built without `with` opens an instance from the ref and never closes it; when the outer instance closes
    first, the variable is left pointing at a closed instance and every later `Definitions` load fails. Each
    test starts and ends with the value it found."""
    from dagster._core.storage.defs_state.base import _current_storage

    before = _current_storage.get()
    yield
    _current_storage.set(before)


def _drop_roles(connection, *roles: str) -> None:
    for role in roles:
        if connection.execute(text("select 1 from pg_roles where rolname = :r"), {"r": role}).scalar():
            connection.execute(text(f'drop owned by "{role}" cascade'))
            connection.execute(text(f'drop role "{role}"'))


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """An empty PostgreSQL schema of its own, reached as a login role of its own that is NOT a superuser (as the
    application in production: it owns its schema, may create schemas in the database and roles - the reports'
    reporting role). The URL sets search_path to the schema. Schema, reporting schema and roles (cluster-wide,
    named after the schema) are dropped after the test."""
    from routines.reports.surface import reporting_role, reporting_schema

    admin_url = postgres_admin_url()
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means unreachable
        _postgres_unavailable(f"unreachable ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    application_role = f"{schema}_app"
    parsed = make_url(admin_url)
    with admin.connect() as connection:
        connection.execute(text(f'create role "{application_role}" login createrole'))
        connection.execute(text(f'grant create on database "{parsed.database}" to "{application_role}"'))
        connection.execute(text(f'create schema "{schema}" authorization "{application_role}"'))
    url = parsed.set(username=application_role, password=None).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    url = url.render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from routines.database.engine import get_engine

        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'drop schema if exists "{reporting_schema(schema)}" cascade'))
            connection.execute(text(f'drop schema "{schema}" cascade'))
            _drop_roles(connection, reporting_role(parsed.database, schema), application_role)
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'business.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request) -> str:
    """An empty business database: SQLite, then PostgreSQL (each test runs on both)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def db_url(empty_db_url, monkeypatch) -> str:
    """A migrated business database on SQLite and on PostgreSQL; also set as ROUTINES_DATABASE_URL."""
    from routines.database import migrate

    migrate.upgrade(empty_db_url)
    monkeypatch.setenv("ROUTINES_DATABASE_URL", empty_db_url)
    return empty_db_url


@pytest.fixture
def sqlite_db_url(sqlite_url, monkeypatch) -> str:
    """A migrated SQLite business database only (for tests whose subject is not the database)."""
    from routines.database import migrate

    migrate.upgrade(sqlite_url)
    monkeypatch.setenv("ROUTINES_DATABASE_URL", sqlite_url)
    return sqlite_url


@pytest.fixture
def engine(db_url):
    from routines.database.engine import get_engine

    return get_engine(db_url)


@pytest.fixture
def file_store_root(tmp_path, monkeypatch):
    root = tmp_path / "files"
    monkeypatch.setenv("ROUTINES_FILE_STORE_ROOT", str(root))
    return root
