"""Fixtures of the housekeeping tests: real Dagster instances (SQLite files, and the production instance file on
a throwaway PostgreSQL database) whose runs are made in the past with Dagster's frozen clock."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from routines_tests.conftest import _postgres_unavailable, postgres_admin_url

REPO_ROOT = Path(__file__).resolve().parents[2]


def admin_engine():
    admin_url = make_url(postgres_admin_url())
    try:
        admin = create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means unreachable
        _postgres_unavailable(f"unreachable ({type(exc).__name__})")
    return admin


def create_database(admin, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    return name


def drop_database(admin, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(
            text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :d"), {"d": name}
        )
        connection.execute(text(f'drop database if exists "{name}"'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def dagster_instance(request, tmp_path, monkeypatch):
    """A real Dagster instance in its own DAGSTER_HOME: SQLite storage, or deploy/dagster.yaml on PostgreSQL."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    if request.param == "sqlite":
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        with dg.DagsterInstance.get() as instance:
            yield instance
        return
    admin = admin_engine()
    database = create_database(admin, "dagster")
    admin_url = make_url(postgres_admin_url())
    shutil.copyfile(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_HOST", admin_url.host or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(admin_url.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_DB", database)
    monkeypatch.setenv("DAGSTER_PG_USER", admin_url.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", admin_url.password or "")
    try:
        with dg.DagsterInstance.get() as instance:
            yield instance
    finally:
        drop_database(admin, database)
        admin.dispose()
