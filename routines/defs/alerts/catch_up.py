"""Self-healing catch-up: a sensor requesting the missing days of the assets tagged `routines/catch_up_lookback`.

Why a sensor and not declarative automation: the rule is business-day aware (the calendar and the deadline say
when a day's data can exist; Carnival is never "missing"), must leave alone a day whose latest attempt failed
(a bad input waits for someone, and is alerted by the run-failure alert), and must be bounded per tick and per
pool; a sensor states exactly that in a few lines, its ticks show in the UI why each day was or was not requested,
and its runs go through the run queue like any other (the ops' pools still bound what executes at once).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta

import dagster as dg

from routines.alerts.deadlines import CATCH_UP_TAG, METADATA_KEY, Deadline
from routines.defs.alerts.common import catch_up_lookback, first_partition, utc_now
from routines.defs.alerts.deadlines import materialized_times
from routines.lib.resources import DEFAULT_POOL_LIMIT, pool_limit

CATCH_UP_RUN_TAG = "routines/catch_up"
MAX_PER_TICK_ENV = "ROUTINES_CATCH_UP_MAX_PER_TICK"
INTERVAL = int(os.environ.get("ROUTINES_CATCH_UP_SENSOR_INTERVAL", "").strip() or 300)


def max_per_tick() -> int:
    return int(os.environ.get(MAX_PER_TICK_ENV, "").strip() or 5)


def _statuses(instance, key, partitions_def, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    statuses = instance.get_status_by_partition(key, keys, partitions_def) or {}
    return {k: (v.value if v is not None else "MISSING") for k, v in statuses.items()}


def planned_assets(instance: dg.DagsterInstance, run_id: str) -> set[dg.AssetKey]:
    """The assets a run planned to materialize (a run of a whole job has no explicit asset selection)."""
    from dagster._core.events import DagsterEventType

    result = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    return {
        r.event_log_entry.dagster_event.asset_key for r in result.records if r.event_log_entry.dagster_event
    }


def recent_attempts(instance: dg.DagsterInstance, since: datetime) -> tuple[dict, dict]:
    """Runs created since `since` that are in progress or failed (one query): {(asset, partition): run} for
    each, the latest first. A run names its assets (`asset_selection`) and partition (`dagster/partition`, or a
    single-run range `dagster/asset_partition_range_start`/`_end`, taken as its start and end keys)."""
    from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

    statuses = [*NOT_FINISHED_STATUSES, dg.DagsterRunStatus.FAILURE]
    running, failed = {}, {}
    records = instance.get_run_records(dg.RunsFilter(statuses=statuses, created_after=since))  # newest first
    for record in records:
        run = record.dagster_run
        tags = run.tags
        partitions = {tags.get("dagster/partition"), tags.get("dagster/asset_partition_range_start"),
                      tags.get("dagster/asset_partition_range_end")} - {None}  # fmt: skip
        if not partitions:
            continue
        target = running if run.status in NOT_FINISHED_STATUSES else failed
        for asset in run.asset_selection or planned_assets(instance, run.run_id):
            for partition in partitions:
                target.setdefault((asset, partition), record)
    return running, failed


def _refresh(context, key, node, deadline, calendar, now, requests, notes, budget, job_name) -> int:
    """A `refresh` deadline (open months re-loaded every business day) that passed unmet today: request the
    open partitions not refreshed today, unless running or failed."""
    from routines.alerts.deadlines import FAILED, evaluate

    today = [e for e in evaluate(deadline, calendar, now, {}, 1).outcomes]
    if (
        not today
        or today[-1].expectation.due.date() != now.astimezone(today[-1].expectation.due.tzinfo).date()
    ):
        return budget
    expectation = today[-1].expectation
    times = materialized_times(context.instance, key, list(expectation.partitions))
    outcome = evaluate(deadline, calendar, now, times, 1).outcomes[-1]
    if outcome.status != FAILED:
        return budget
    stale = [p for p in expectation.partitions if p not in times or times[p] < expectation.since]
    statuses = _statuses(context.instance, key, node.partitions_def, stale)
    for partition in stale:
        if statuses.get(partition) in ("IN_PROGRESS", "FAILED"):
            notes.append(f"{key.to_user_string()} {partition}: {statuses[partition].lower()}")
        elif budget > 0:
            requests.append(
                dg.RunRequest(
                    run_key=f"catch_up:{key.to_user_string()}:{partition}:{expectation.label}",
                    job_name=job_name,
                    partition_key=partition,
                    asset_selection=[key],
                    tags={CATCH_UP_RUN_TAG: "true"},
                )
            )
            budget -= 1
    return budget


def catch_up_jobs(definitions: dg.Definitions) -> dict[dg.AssetKey, dg.UnresolvedAssetJobDefinition]:
    """One job per asset tagged `routines/catch_up_lookback`: the asset and its parents of the same partitions
    (the B3 file before the B3 quotes), so a missed day is requested whole."""
    partitions: dict[dg.AssetKey, object] = {}
    specs = []
    for assets_def in definitions.assets or []:
        if not isinstance(assets_def, dg.AssetsDefinition):
            continue
        for spec in assets_def.specs:
            partitions[spec.key] = assets_def.partitions_def
            specs.append(spec)
    jobs = {}
    for spec in specs:
        if CATCH_UP_TAG not in (spec.tags or {}) or partitions.get(spec.key) is None:
            continue
        parents = [d.asset_key for d in spec.deps if partitions.get(d.asset_key) == partitions[spec.key]]
        name = "catch_up_" + "_".join(spec.key.path)
        jobs[spec.key] = dg.define_asset_job(
            name,
            selection=[*parents, spec.key],
            description=f"Recuperação automática de dias faltantes de {spec.key.to_user_string()}",
            tags={CATCH_UP_RUN_TAG: "true"},
        )
    return jobs


def build_catch_up_sensor(
    jobs: dict[dg.AssetKey, object],
    clock: Callable[[], datetime] = utc_now,
    name: str = "catch_up_sensor",
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """The catch-up sensor over `jobs` (`catch_up_jobs`); `clock` gives the tick's "now" (tests)."""
    job_names = {key: job.name for key, job in jobs.items()}

    @dg.sensor(
        name=name,
        jobs=list(jobs.values()),
        minimum_interval_seconds=INTERVAL,
        default_status=default_status,
        description=(
            "Recupera sozinho os dias faltantes (dias úteis dos últimos N, tag routines/catch_up_lookback) dos "
            "assets que optaram: nunca um dia cujo dado ainda não existe, em execução ou que falhou (esse é "
            "alertado); limitado por tick e pelos pools."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext):
        from routines.alerts.catchup import decide, lookback_days
        from routines.calendar.registry import get_calendar

        now = clock()
        graph = context.repository_def.asset_graph
        per_pool: dict[str, int] = {}
        limits: dict[str, int] = {}  # pool limits, read once per tick
        requests, notes = [], []
        budget = max_per_tick()
        attempts = None
        first_key = min(
            lookback_days(get_calendar("ANBIMA"), now, max(catch_up_lookback(graph.get(k)) or 1 for k in job_names) + 5)
        ) if job_names else None  # fmt: skip
        for key in sorted(job_names, key=lambda k: k.to_user_string()):
            node = graph.get(key)
            window = catch_up_lookback(node)
            if window is None:
                continue
            raw = (node.metadata or {}).get(METADATA_KEY)
            deadline = Deadline.parse(raw, key.to_user_string()) if raw is not None else None
            calendar = get_calendar(deadline.calendar if deadline else "ANBIMA")
            if deadline is not None and deadline.kind == "refresh":
                budget = _refresh(context, key, node, deadline, calendar, now, requests, notes, budget,
                                  job_names[key])  # fmt: skip
                continue
            keys = lookback_days(calendar, now, window)
            if attempts is None:  # one query for every asset, only when some asset needs it
                attempts = recent_attempts(
                    context.instance, datetime.fromisoformat(first_key) - timedelta(days=1)
                )
            running, failed = attempts
            times = materialized_times(context.instance, key, keys)
            decision = decide(
                calendar,
                now,
                window,
                materialized=list(times),
                running=[k for k in keys if (key, k) in running],
                failed=[
                    k
                    for k in keys
                    if (key, k) in failed
                    and (
                        k not in times or failed[(key, k)].create_timestamp.timestamp() > times[k].timestamp()
                    )
                ],
                deadline=deadline,
                first_partition=first_partition(node),
            )
            parents = [
                parent
                for parent in sorted(node.parent_keys, key=lambda k: k.to_user_string())
                if graph.has(parent)
                and graph.get(parent).is_materializable
                and graph.get(parent).partitions_def == node.partitions_def
            ]
            pools = sorted({pool for k in [key, *parents] for pool in (graph.get(k).pools or ())})
            for partition in decision.request:
                if budget <= 0:
                    notes.append(f"{key.to_user_string()} {partition}: limite por tick atingido")
                    continue
                full = [
                    p
                    for p in pools
                    if per_pool.get(p, 0)
                    >= limits.setdefault(p, pool_limit(context.instance, p, DEFAULT_POOL_LIMIT))
                ]
                if full:
                    notes.append(
                        f"{key.to_user_string()} {partition}: pool {', '.join(full)} cheio neste tick"
                    )
                    continue
                selection = [
                    parent
                    for parent in parents
                    if partition not in materialized_times(context.instance, parent, [partition])
                ] + [key]
                requests.append(
                    dg.RunRequest(
                        run_key=f"catch_up:{key.to_user_string()}:{partition}",
                        job_name=job_names[key],
                        partition_key=partition,
                        asset_selection=selection,
                        tags={CATCH_UP_RUN_TAG: "true"},
                    )
                )
                budget -= 1
                for pool in pools:
                    per_pool[pool] = per_pool.get(pool, 0) + 1
            for partition in decision.failed:
                notes.append(f"{key.to_user_string()} {partition}: falhou, aguardando ação")
            for partition in decision.running:
                notes.append(f"{key.to_user_string()} {partition}: em execução")
        if not requests:
            return dg.SkipReason("nada a recuperar" + (f" ({'; '.join(notes[:20])})" if notes else ""))
        for note in notes:
            context.log.info(note)
        return requests

    return _sensor


ENABLED_ENV = "ROUTINES_CATCH_UP"


def catch_up_default_status() -> dg.DefaultSensorStatus:
    """ROUTINES_CATCH_UP=on|off; default on in production (ROUTINES_ENV=production), off elsewhere: a laptop or a
    test run never starts downloads of missed days by itself (the sensor can still be started in the UI)."""
    from routines import settings

    raw = os.environ.get(ENABLED_ENV, "").strip().lower()
    if raw not in ("", "on", "off"):
        raise ValueError(f"{ENABLED_ENV}={raw!r}: expected on or off")
    enabled = raw == "on" or (raw == "" and settings.environment() == "production")
    return dg.DefaultSensorStatus.RUNNING if enabled else dg.DefaultSensorStatus.STOPPED


def catch_up_definitions(definitions: dg.Definitions) -> dg.Definitions:
    """The catch-up jobs and sensor for the assets of `definitions` that opt in (none: nothing)."""
    jobs = catch_up_jobs(definitions)
    if not jobs:
        return dg.Definitions()
    sensor = build_catch_up_sensor(jobs, default_status=catch_up_default_status())
    return dg.Definitions(jobs=list(jobs.values()), sensors=[sensor])
