"""Deadline checks and the deadline sensor.

The check `deadline` of each asset declaring `routines/deadline` is defined once for the whole code location
(`deadline_checks`, applied in `routines/definitions.py`). Its results are reported by `deadline_sensor` as
runless check evaluations (no run per evaluation: cheap enough to evaluate every few minutes for hundreds of
assets) and only when the result changed; executing the check by hand in the UI evaluates it the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import datetime

import dagster as dg

from routines.alerts.deadlines import CHECK_NAME, FAILED, METADATA_KEY, WARN, Deadline, Evaluation
from routines.defs.alerts.common import declared_deadlines, dispatch_alerts, first_partition, utc_now
from routines.lib.resources import DatabaseResource

LOOKBACK_ENV = "ROUTINES_DEADLINE_LOOKBACK"
INTERVAL = int(os.environ.get("ROUTINES_DEADLINE_SENSOR_INTERVAL", "").strip() or 120)


def lookback() -> int:
    return int(os.environ.get(LOOKBACK_ENV, "").strip() or 5)


def materialized_times(instance: dg.DagsterInstance, key: dg.AssetKey, partitions: list[str]) -> dict:
    """partition -> time of its latest materialization, for these partitions only (one query)."""
    from datetime import UTC

    if not partitions:
        return {}
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions), limit=len(partitions) * 20
    ).records
    found: dict[str, datetime] = {}
    for record in records:  # newest first
        partition = record.partition_key
        if partition is not None and partition not in found:
            found[partition] = datetime.fromtimestamp(record.timestamp, UTC)
    return found


def evaluate_asset(
    instance, key, deadline: Deadline, first: str | None, now: datetime, window: int
) -> Evaluation:
    from routines.alerts.deadlines import evaluate, partitions_to_fetch
    from routines.calendar.registry import get_calendar

    calendar = get_calendar(deadline.calendar)
    partitions = partitions_to_fetch(deadline, calendar, now, window)
    materialized = materialized_times(instance, key, partitions)
    return evaluate(deadline, calendar, now, materialized, window, first)


LOOKAHEAD_DAYS = 7  # a fetch also covers the partitions entering the window in the next days
EARLY_REFRESH_PER_TICK = (
    25  # coverage ending within 3 days: refreshed a few assets per tick, spreading the cost
)


def _covered_keys(deadline: Deadline, calendar, now: datetime, window: int) -> list[str]:
    from datetime import timedelta

    from routines.alerts.deadlines import partitions_to_fetch

    later = partitions_to_fetch(deadline, calendar, now + timedelta(days=LOOKAHEAD_DAYS), window + 10)
    return sorted(set(later) | set(partitions_to_fetch(deadline, calendar, now, window)))


def evaluate_all(instance, declared, now: datetime, window: int, cache: dict) -> dict:
    """Evaluate every declared deadline. `cache` (kept in the sensor's cursor): per asset, the storage id of its
    latest materialization, the partitions covered and their latest materialization times. One query reads the
    latest storage id of every asset; an asset's materializations are fetched again only when it has a new one
    or its window leaves what is covered (spread over ticks when coverage is about to end)."""
    from datetime import UTC, timedelta

    from routines.alerts.deadlines import evaluate, partitions_to_fetch
    from routines.calendar.registry import get_calendar

    latest = {}
    for record in instance.get_asset_records([key for key, _, _ in declared]):
        entry = record.asset_entry
        latest[entry.asset_key.to_user_string()] = entry.last_materialization_storage_id or 0
    early_budget = EARLY_REFRESH_PER_TICK
    results = {}
    for key, deadline, node in declared:
        name = key.to_user_string()
        calendar = get_calendar(deadline.calendar)
        needed = partitions_to_fetch(deadline, calendar, now, window)
        cached = cache.get(name)
        fresh = cached is not None and cached["id"] == latest.get(name, 0)
        if fresh and not set(needed) <= set(cached["keys"]):
            fresh = False
        elif fresh and early_budget > 0:
            soon = partitions_to_fetch(deadline, calendar, now + timedelta(days=3), window)
            if not set(soon) <= set(cached["keys"]):
                fresh = False
                early_budget -= 1
        if not fresh:
            keys = _covered_keys(deadline, calendar, now, window)
            times = materialized_times(instance, key, keys)
            cached = {
                "id": latest.get(name, 0),
                "keys": keys,
                "t": {k: v.timestamp() for k, v in times.items()},
            }
            cache[name] = cached
        materialized = {k: datetime.fromtimestamp(v, UTC) for k, v in cached["t"].items()}
        results[key] = (
            deadline,
            node,
            evaluate(deadline, calendar, now, materialized, window, first_partition(node)),
        )
    return results


def _when(moment: datetime) -> str:
    from routines.alerts.deadlines import TIMEZONE

    return f"{moment.astimezone(TIMEZONE):%d/%m/%Y %H:%M}"


def check_result_fields(deadline: Deadline, evaluation: Evaluation) -> dict:
    """passed / severity / description / metadata of the `deadline` check (pt-BR)."""
    failed = [o.expectation for o in evaluation.failed]
    warned = [o.expectation for o in evaluation.warned]
    if failed:
        text = "Prazo perdido: " + ", ".join(f"{e.label} (venceu {_when(e.due)})" for e in failed)
    elif warned:
        text = "Prazo próximo: " + ", ".join(f"{e.label} (vence {_when(e.due)})" for e in warned)
    else:
        text = "Dentro do prazo"
    return {
        "passed": evaluation.status not in (FAILED, WARN),
        "severity": dg.AssetCheckSeverity.WARN if evaluation.status == WARN else dg.AssetCheckSeverity.ERROR,
        "description": f"{text}. Prazo: {deadline.describe()}.",
        "metadata": {
            "status": evaluation.status,
            "deadline": deadline.describe(),
            "missing_partitions": ", ".join(e.label for e in failed) or "",
            "warning_partitions": ", ".join(e.label for e in warned) or "",
            "evaluated_partitions": ", ".join(o.expectation.label for o in evaluation.outcomes),
        },
    }


def deadline_checks(definitions: dg.Definitions) -> list[dg.AssetChecksDefinition]:
    """A `deadline` check on each asset of `definitions` that declares `routines/deadline`."""
    specs, declared = [], {}
    for assets_def in definitions.assets or []:
        for spec in getattr(assets_def, "specs", None) or (
            [assets_def] if isinstance(assets_def, dg.AssetSpec) else []
        ):
            value = (spec.metadata or {}).get(METADATA_KEY)
            if value is None:
                continue
            deadline = Deadline.parse(value, spec.key.to_user_string())
            declared[spec.key] = (deadline, first_partition(spec))
            specs.append(
                dg.AssetCheckSpec(
                    CHECK_NAME,
                    asset=spec.key,
                    description=f"Prazo de negócio: {deadline.describe()} (avaliado pelo deadline_sensor)",
                    metadata={"deadline": deadline.describe()},
                )
            )
    if not specs:
        return []

    @dg.multi_asset_check(specs=specs, can_subset=True, name="deadline_checks")
    def _deadline_checks(context):
        now = utc_now()
        for check_key in context.selected_asset_check_keys:
            deadline, first = declared[check_key.asset_key]
            evaluation = evaluate_asset(
                context.instance, check_key.asset_key, deadline, first, now, lookback()
            )
            yield dg.AssetCheckResult(asset_key=check_key.asset_key, check_name=CHECK_NAME,
                                      **check_result_fields(deadline, evaluation))  # fmt: skip

    return [_deadline_checks]


def _signature(fields: dict) -> str:
    payload = json.dumps([fields["passed"], str(fields["severity"]), fields["metadata"]], sort_keys=True)
    return hashlib.sha1(payload.encode()).hexdigest()[:12]


def build_deadline_sensor(
    clock: Callable[[], datetime] = utc_now,
    name: str = "deadline_sensor",
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """`clock` gives the tick's "now" (tests pass explicit times)."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=INTERVAL,
        default_status=default_status,
        description=(
            "Avalia os prazos de negócio (metadata routines/deadline) dos assets: registra a verificação "
            "`deadline` em cada asset (ok / aviso / falha com a partição faltante) e alerta prazo perdido e "
            "regularizado. Nada é esperado em dia fechado pelo calendário."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
        from routines.alerts.messages import Alert
        from routines.alerts.service import alerted_misses, open_misses, record_known_misses

        now = clock()
        graph = context.repository_def.asset_graph
        window = lookback()
        first_tick = not context.cursor
        state = json.loads(context.cursor) if context.cursor else {}
        checks, cache = state.setdefault("checks", {}), state.setdefault("cache", {})
        reported = 0
        alerts = []
        evaluations = evaluate_all(context.instance, declared_deadlines(graph), now, window, cache)
        for key, (deadline, _node, evaluation) in evaluations.items():
            fields = check_result_fields(deadline, evaluation)
            signature = _signature(fields)
            name_ = key.to_user_string()
            if checks.get(name_) != signature:
                context.instance.report_runless_asset_event(
                    dg.AssetCheckEvaluation(asset_key=key, check_name=CHECK_NAME, **fields)
                )
                checks[name_] = signature
                reported += 1
        subjects = {}
        for key, (deadline, node, evaluation) in evaluations.items():
            for outcome in evaluation.failed:
                subjects[f"{key.to_user_string()}:{outcome.expectation.label}"] = (
                    key,
                    deadline,
                    node,
                    outcome,
                )
        with database.session() as session:
            already = alerted_misses(session, list(subjects))
            if first_tick:  # misses older than the sensor itself: on the checks, not alerted
                record_known_misses(session, [s for s in subjects if s not in already], now)
                already = set(subjects)
            still_open = open_misses(session)
        for subject, (key, deadline, node, outcome) in subjects.items():
            if subject in already:
                continue
            alerts.append(
                Alert(
                    kind="deadline_missed",
                    routine=key.to_user_string(),
                    partition=outcome.expectation.label,
                    reason=f"partição {outcome.expectation.label} não materializada no prazo "
                    f"({deadline.describe()}; venceu {_when(outcome.expectation.due)})",
                    owners=tuple(node.owners or ()),
                    groups=(node.group_name,) if node.group_name else (),
                    subject=subject,
                    at=now,
                )
            )
        for key, (deadline, node, evaluation) in evaluations.items():
            for outcome in evaluation.outcomes:
                subject = f"{key.to_user_string()}:{outcome.expectation.label}"
                if outcome.status == "passed" and subject in still_open:
                    alerts.append(
                        Alert(
                            kind="deadline_met",
                            routine=key.to_user_string(),
                            partition=outcome.expectation.label,
                            reason=f"regularizado: partição {outcome.expectation.label} materializada "
                            f"depois do prazo ({deadline.describe()})",
                            owners=tuple(node.owners or ()),
                            groups=(node.group_name,) if node.group_name else (),
                            subject=subject,
                            at=now,
                        )
                    )
        dispatch_alerts(database, alerts, now, context.log)
        context.update_cursor(json.dumps(state, sort_keys=True))
        return dg.SkipReason(
            f"{len(evaluations)} prazos avaliados, {reported} verificações registradas, {len(alerts)} alertas"
        )

    return _sensor


deadline_sensor = build_deadline_sensor()
