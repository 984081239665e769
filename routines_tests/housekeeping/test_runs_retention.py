"""Old Dagster runs disappear from a real instance with their event and compute logs, through the instance API;
recent, failed (within their longer retention) and still-needed runs stay; the dry run lists the same runs."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.test_utils import freeze_time

from routines.cli import main
from routines.defs.housekeeping.dagster_storage import compute_log_bytes
from routines.defs.housekeeping.jobs import retention_dry_run_job, retention_job
from routines.lib.resources import DatabaseResource, FileStoreResource

NOW = datetime.now(UTC)
PARTITIONS = dg.StaticPartitionsDefinition(["a", "b"])


@dg.op
def chatty(context: dg.OpExecutionContext) -> None:
    print("linha de saída do passo " * 50)  # captured by the compute log manager
    context.log.info("passo executado")


@dg.job
def chatty_job():
    chatty()


@dg.op
def broken() -> None:
    raise RuntimeError("falha proposital")


@dg.job
def broken_job():
    broken()


@dg.asset(partitions_def=PARTITIONS)
def probe_partitioned() -> int:
    return 1


def _chatty_in_subprocess(instance) -> str:
    """The step runs in a child process (multiprocess executor), whose stdout the compute log manager captures
    into files; the run's own events (start, end) come from this process, at the frozen time."""
    with dg.execute_job(dg.reconstructable(chatty_job), instance=instance) as result:
        assert result.success
        return result.run_id


def _at(days_ago: float, fn):
    with freeze_time(NOW - timedelta(days=days_ago)):
        return fn()


def _runs(instance):
    made = {}
    made["old_success"] = _at(100, lambda: _chatty_in_subprocess(instance))
    made["recent_success"] = _at(10, lambda: _chatty_in_subprocess(instance))
    made["old_failure"] = _at(
        100, lambda: broken_job.execute_in_process(instance=instance, raise_on_error=False).run_id
    )
    made["ancient_failure"] = _at(
        400, lambda: broken_job.execute_in_process(instance=instance, raise_on_error=False).run_id
    )
    # partition "a" materialized twice long ago: the first run is superseded, the second still holds it
    for name, days in (("superseded", 200), ("holds_latest", 150)):
        made[name] = _at(
            days, lambda: dg.materialize([probe_partitioned], partition_key="a", instance=instance).run_id
        )
    made["not_started"] = _at(300, lambda: instance.create_run_for_job(chatty_job).run_id)
    return made


def _removed_runs(result) -> list[str]:
    for event in result.all_events:
        if event.event_type_value == "STEP_OUTPUT" and event.step_key == "dagster_runs_retention":
            return [line.split("\t")[1] for line in event.event_specific_data.metadata["removed"].value]
    raise AssertionError("no output of dagster_runs_retention")


def test_old_runs_are_removed_with_their_logs(dagster_instance, sqlite_db_url, tmp_path, capsys):
    instance = dagster_instance
    made = _runs(instance)
    expected = {made["old_success"], made["ancient_failure"], made["superseded"]}
    log_bytes = compute_log_bytes(instance, made["old_success"])
    assert log_bytes > 1000  # the printed lines are there
    assert instance.all_logs(made["old_success"])

    # the CLI's dry run, then the dry-run job: the same list, nothing changed
    assert main(["housekeeping", "retention", "--only", "runs", "--dry-run", "--url", sqlite_db_url]) == 0
    out = capsys.readouterr().out
    printed = [line.split("\t") for line in out.splitlines() if line.startswith("run\t")]
    assert {fields[1] for fields in printed} == expected
    assert {int(fields[2]) for fields in printed if fields[1] == made["old_success"]} == {log_bytes}
    resources = {
        "database": DatabaseResource(url=sqlite_db_url),
        "file_store": FileStoreResource(root=str(tmp_path / "files")),
    }
    dry = retention_dry_run_job.execute_in_process(instance=instance, resources=resources)
    assert set(_removed_runs(dry)) == expected
    assert all(instance.get_run_by_id(run_id) is not None for run_id in made.values())
    assert compute_log_bytes(instance, made["old_success"]) == log_bytes

    real = retention_job.execute_in_process(instance=instance, resources=resources)
    assert set(_removed_runs(real)) == expected
    for run_id in expected:
        assert instance.get_run_by_id(run_id) is None
        assert instance.all_logs(run_id) == []
        assert compute_log_bytes(instance, run_id) == 0
    for name in ("recent_success", "old_failure", "holds_latest", "not_started"):
        run_id = made[name]
        assert instance.get_run_by_id(run_id) is not None, name
        if name != "not_started":
            assert instance.all_logs(run_id), name
    assert compute_log_bytes(instance, made["recent_success"]) > 0
    # Dagster still knows partition "a" was materialized (its latest materialization's run was kept)
    assert instance.get_materialized_partitions(probe_partitioned.key) == {"a"}
    # a second pass finds nothing more
    again = retention_job.execute_in_process(instance=instance, resources=resources)
    assert _removed_runs(again) == []


def test_retention_days_come_from_the_environment(dagster_instance, sqlite_db_url, monkeypatch, capsys):
    instance = dagster_instance
    old_failure = _at(
        100, lambda: broken_job.execute_in_process(instance=instance, raise_on_error=False).run_id
    )
    recent = _at(10, lambda: chatty_job.execute_in_process(instance=instance).run_id)
    monkeypatch.setenv("ROUTINES_RETENTION_RUNS_DAYS", "5")
    monkeypatch.setenv("ROUTINES_RETENTION_FAILED_RUNS_DAYS", "30")
    assert main(["housekeeping", "retention", "--only", "runs", "--url", sqlite_db_url]) == 0
    out = capsys.readouterr().out
    assert "removed 2 item(s)" in out
    assert instance.get_run_by_id(old_failure) is None and instance.get_run_by_id(recent) is None
    monkeypatch.setenv("ROUTINES_RETENTION_RUNS_DAYS", "zero")
    assert main(["housekeeping", "retention", "--only", "runs", "--url", sqlite_db_url]) == 2


def test_tick_retention_is_set_in_both_instance_files(tmp_path, monkeypatch):
    import yaml
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import TickStatus

    root = Path(__file__).resolve().parents[2]
    for name in ("dagster.yaml", "deploy/dagster.yaml"):
        section = yaml.safe_load((root / name).read_text())["retention"]
        home = tmp_path / name.replace("/", "_")
        home.mkdir()
        # the file's retention section, loaded by a real instance (storage left to Dagster's defaults)
        (home / "dagster.yaml").write_text(yaml.safe_dump({"retention": section}))
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.get() as instance:
            schedule = instance.get_tick_retention_settings(InstigatorType.SCHEDULE)
            sensor = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        assert schedule[TickStatus.SUCCESS] == 90 and schedule[TickStatus.SKIPPED] == 30, name
        assert sensor[TickStatus.SKIPPED] == 7 and sensor[TickStatus.SUCCESS] == 30, name
        assert sensor[TickStatus.FAILURE] == 90 and schedule[TickStatus.FAILURE] == 90, name
