"""The production instance file (deploy/dagster.yaml) loads into a real DagsterInstance on PostgreSQL and runs."""

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


@pytest.fixture
def production_dagster_home(tmp_path, monkeypatch):
    """DAGSTER_HOME holding the repository's dagster.yaml, its storage in a throwaway PostgreSQL database."""
    admin_url = make_url(postgres_admin_url())
    try:
        admin = create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        _postgres_unavailable(f"unreachable ({type(exc).__name__})")
    database = f"dagster_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'create database "{database}"'))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_HOST", admin_url.host or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(admin_url.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_DB", database)
    monkeypatch.setenv("DAGSTER_PG_USER", admin_url.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", admin_url.password or "")
    try:
        yield home, database
    finally:
        with admin.connect() as connection:
            connection.execute(
                text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :d"),
                {"d": database},
            )
            connection.execute(text(f'drop database if exists "{database}"'))
        admin.dispose()


@dg.asset
def probe_asset() -> int:
    return 42


def test_production_instance_loads_on_postgres_and_completes_a_run(production_dagster_home):
    home, database = production_dagster_home
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_monitoring_enabled
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 5
        assert concurrency.run_queue_config.max_concurrent_runs == 10
        assert {"key": "dagster/backfill", "limit": 6} in concurrency.run_queue_config.tag_concurrency_limits

        result = dg.materialize([probe_asset], instance=instance)
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_latest_materialization_event(probe_asset.key) is not None

    # The run really is in PostgreSQL, not in a local SQLite file.
    url = make_url(postgres_admin_url()).set(database=database)
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from runs where status = 'SUCCESS'")).scalar() == 1
    engine.dispose()
    assert not list(home.glob("**/*.db"))
