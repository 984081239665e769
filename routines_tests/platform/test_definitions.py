"""The whole code location loads, and the cross-cutting policies hold for every definition in it."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEZONE = "America/Sao_Paulo"


def load_defs() -> dg.Definitions:
    import routines.definitions

    return importlib.reload(routines.definitions).defs()


def test_the_code_location_loads_and_validates():
    defs = load_defs()
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    assert {"database", "file_store", "anbima_calendar", "b3_calendar", "rpa", "sat"} <= set(defs.resources)
    assets = {node.key.to_user_string() for node in repository.asset_graph.asset_nodes}
    assert {"b3_cotahist_file", "b3_quotes", "cvm_fund_quotas", "downloaded_invoices", "reports"} <= assets


def test_dagster_cli_validates_the_workspace(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def _partitions_timezones(partitions_def) -> list[str]:
    if partitions_def is None:
        return []
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return [
            tz for dim in partitions_def.partitions_defs for tz in _partitions_timezones(dim.partitions_def)
        ]
    timezone = getattr(partitions_def, "timezone", None)
    return [timezone] if timezone is not None else []


def test_every_partition_and_schedule_runs_in_sao_paulo_time():
    defs = load_defs()
    repository = defs.get_repository_def()
    for node in repository.asset_graph.asset_nodes:
        asset_key = node.key
        for timezone in _partitions_timezones(node.partitions_def):
            assert timezone == TIMEZONE, f"{asset_key.to_user_string()} partitions use {timezone}"
    for schedule in repository.schedule_defs:
        assert schedule.execution_timezone == TIMEZONE, f"schedule {schedule.name}"


def test_production_requires_the_database_and_file_store_env_vars(monkeypatch):
    from routines.definitions import shared_resources

    production = shared_resources("production")
    assert production["database"].url == dg.EnvVar("ROUTINES_DATABASE_URL")
    assert production["file_store"].root == dg.EnvVar("ROUTINES_FILE_STORE_ROOT")
    with pytest.raises(ValueError, match="ROUTINES_ENV"):
        shared_resources("staging")


def test_celery_executor_runs_every_job_when_chosen(monkeypatch):
    """ROUTINES_EXECUTOR=celery: every job's steps go to Celery workers (broker and backend read from the
    environment when a run starts, never written into the run config)."""
    monkeypatch.setenv("ROUTINES_EXECUTOR", "celery")
    monkeypatch.setenv("ROUTINES_CELERY_QUEUE", "routines-x")
    jobs = load_defs().get_repository_def().get_all_jobs()
    assert jobs and {job.executor_def.name for job in jobs} == {"celery"}
    schema = jobs[0].executor_def.config_schema
    assert not schema.resolve_config({}).success  # broker and backend unset: a run would refuse to start
    monkeypatch.setenv("ROUTINES_CELERY_BROKER", "redis://broker-host:6379/0")
    monkeypatch.setenv("ROUTINES_CELERY_BACKEND", "redis://broker-host:6379/1")
    config = schema.resolve_config({}).value["config"]
    assert (config["broker"], config["backend"]) == (
        "redis://broker-host:6379/0",
        "redis://broker-host:6379/1",
    )
    assert config["config_source"] == {"task_default_queue": "routines-x"}
    monkeypatch.setenv("ROUTINES_EXECUTOR", "multiprocess")
    assert {job.executor_def.name for job in load_defs().get_repository_def().get_all_jobs()} == {
        "multi_or_in_process_executor"
    }
    monkeypatch.setenv("ROUTINES_EXECUTOR", "threads")
    with pytest.raises(ValueError, match="ROUTINES_EXECUTOR='threads'"):
        load_defs()


def test_importing_the_code_location_opens_no_database(tmp_path):
    """Import has no side effects: no business database file appears in ROUTINES_HOME."""
    home = tmp_path / "home"
    env = {**os.environ, "ROUTINES_HOME": str(home)}
    env.pop("ROUTINES_DATABASE_URL", None)
    subprocess.run([sys.executable, "-c", "import routines.definitions"], env=env, check=True, timeout=120)
    assert not home.exists() or not list(home.rglob("*.db"))


def test_every_asset_that_calls_an_external_system_is_in_its_pool():
    """The pools of dagster.yaml bound the load on B3, CVM, the RPA provider and SAT across all runs."""
    repository = load_defs().get_repository_def()
    pools = {
        node.key.to_user_string(): repository.assets_defs_by_key[node.key].op.pool
        for node in repository.asset_graph.asset_nodes
        if node.key in repository.assets_defs_by_key
    }
    assert pools["b3_cotahist_file"] == "b3"
    assert pools["cvm_fund_quotas"] == "cvm"
    assert pools["downloaded_invoices"] == "rpa"
    assert pools["sat_uploads"] == "sat"
