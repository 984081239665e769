"""Retention of Dagster's own storage through the instance API (never SQL on Dagster's tables).

A finished run past its retention (`routines.housekeeping.retention.run_is_old`: failed runs after
ROUTINES_RETENTION_FAILED_RUNS_DAYS, the others after ROUTINES_RETENTION_RUNS_DAYS) is removed with
`compute_log_manager.delete_logs(prefix=[run_id])` (its stdout/stderr) and `instance.delete_run` (the run and its
event log). A run that still holds the latest materialization of an asset partition is kept: deleting it would
make Dagster forget that the partition was ever materialized (the UI would show it missing, and "missing"
backfills or automation would run it again). Schedule and sensor ticks are purged by the daemon, following the
`retention:` section of the instance file (dagster.yaml, deploy/dagster.yaml).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from routines.housekeeping.retention import Removal, run_is_old
from routines.housekeeping.settings import RetentionRules

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
MAX_RUNS_PER_PASS = 5000  # the rest on the next pass (runs are read oldest first)


def _ended_at(record) -> datetime:
    if record.end_time is not None:
        return datetime.fromtimestamp(record.end_time, UTC)
    return record.update_timestamp.astimezone(UTC)


def compute_log_bytes(instance: dg.DagsterInstance, run_id: str) -> int:
    """Bytes of the run's captured stdout/stderr when they are local files (0 when stored elsewhere)."""
    from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

    manager = instance.compute_log_manager
    if not isinstance(manager, LocalComputeLogManager):
        return 0
    folder = Path(manager.get_captured_local_path([run_id, "probe"], "out")).parent
    if not folder.is_dir():
        return 0
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


class LatestMaterializations:
    """Which runs hold the latest materialization of some partition of an asset (read once per asset key).

    Compared by run id: the embedded SQLite instance numbers a run's events in its own file and in the index
    differently, so storage ids of `get_records_for_run` cannot be matched against the index's.
    """

    def __init__(self, instance: dg.DagsterInstance):
        self.instance = instance
        self._holders: dict[dg.AssetKey, set[str]] = {}

    def holders(self, asset_key: dg.AssetKey) -> set[str]:
        if asset_key not in self._holders:
            latest_ids = list(
                self.instance.get_latest_storage_id_by_partition(
                    asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION
                ).values()
            )
            runs: set[str] = set()
            for start in range(0, len(latest_ids), 1000):
                chunk = latest_ids[start : start + 1000]
                records = self.instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=asset_key, storage_ids=chunk), limit=len(chunk)
                ).records
                runs.update(record.run_id for record in records)
            # the latest materialization without a partition (unpartitioned assets)
            latest = self.instance.fetch_materializations(asset_key, limit=1).records
            if latest and latest[0].partition_key is None:
                runs.add(latest[0].run_id)
            self._holders[asset_key] = runs
        return self._holders[asset_key]

    def held_by(self, run_id: str) -> list[str]:
        """The assets of which `run_id` holds the latest materialization of some partition."""
        records = self.instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        keys = {record.asset_key for record in records if record.asset_key is not None}
        return sorted(key.to_user_string() for key in keys if run_id in self.holders(key))


def plan_run_removals(
    instance: dg.DagsterInstance, rules: RetentionRules, now: datetime, limit: int = MAX_RUNS_PER_PASS
) -> list[Removal]:
    """Finished runs past their retention, oldest first, except those holding a latest materialization."""
    cutoff = now - timedelta(days=min(rules.runs_days, rules.failed_runs_days))
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=FINISHED, updated_before=cutoff), limit=limit, ascending=True
    )
    latest = LatestMaterializations(instance)
    removals = []
    for record in records:
        run = record.dagster_run
        ended = _ended_at(record)
        if not run_is_old(run.status.value, ended, rules, now) or latest.held_by(run.run_id):
            continue
        removals.append(
            Removal(
                "run",
                run.run_id,
                compute_log_bytes(instance, run.run_id),
                f"{run.job_name} {run.status.value}, terminada em {ended:%Y-%m-%d}",
            )
        )
    return removals


def remove_runs(instance: dg.DagsterInstance, removals: list[Removal]) -> list[Removal]:
    """Delete each planned run's compute logs, then the run with its event log; returns the removals done."""
    done = []
    for removal in removals:
        run = instance.get_run_by_id(removal.target)
        if run is None:
            continue
        if not run.is_finished:  # pragma: no cover - only finished runs are planned
            continue
        instance.compute_log_manager.delete_logs(prefix=[removal.target])
        instance.delete_run(removal.target)
        done.append(removal)
    return done


def run_retention(
    instance: dg.DagsterInstance, rules: RetentionRules, now: datetime, dry_run: bool
) -> list[Removal]:
    """Plan, and unless `dry_run` remove, the old runs (the one implementation of the op and the CLI)."""
    plan = plan_run_removals(instance, rules, now)
    return plan if dry_run else remove_runs(instance, plan)
