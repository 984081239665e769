"""`alert_events_sensor`: alerts for asset checks of severity ERROR that failed (in runs or reported without a
run; the `deadline` check is alerted by the deadline sensor instead) and for schedule/sensor ticks that errored
(read from the instance's tick history). The cursor keeps the last check execution id and tick time seen."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg

from routines.alerts.deadlines import CHECK_NAME
from routines.defs.alerts.common import dispatch_alerts, run_url, utc_now
from routines.lib.resources import DatabaseResource

INTERVAL = int(os.environ.get("ROUTINES_ALERT_EVENTS_SENSOR_INTERVAL", "").strip() or 60)


def check_executions(instance: dg.DagsterInstance, check_keys, after: int):
    """(record id, AssetCheckEvaluation, run id) of the latest execution of each check, when newer than the
    record id `after` (one query for all checks; works on every event log storage, sharded or not)."""
    keys = [key for key in check_keys if key.name != CHECK_NAME]
    if not keys:
        return []
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    found = []
    for record in latest.values():
        if record.id <= after or record.event is None or record.event.dagster_event is None:
            continue
        evaluation = record.event.dagster_event.event_specific_data
        if isinstance(evaluation, dg.AssetCheckEvaluation):
            found.append((record.id, evaluation, record.run_id or None))
    return sorted(found, key=lambda item: item[0])


def failed_ticks(instance: dg.DagsterInstance, after: float):
    """Ticks of every schedule and sensor of the instance that failed after the timestamp `after`."""
    from dagster._core.scheduler.instigation import TickStatus

    ticks = []
    for state in instance.all_instigator_state():
        ticks.extend(
            instance.get_ticks(
                state.instigator_origin_id, state.selector_id, after=after, statuses=[TickStatus.FAILURE]
            )
        )
    return sorted(ticks, key=lambda tick: tick.timestamp)


def build_alert_events_sensor(
    clock: Callable[[], datetime] = utc_now,
    name: str = "alert_events_sensor",
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        minimum_interval_seconds=INTERVAL,
        default_status=default_status,
        description=(
            "Alerta (e-mail, Slack, Teams, notificação) verificações de severidade ERROR que falharam e ticks de "
            "schedules/sensores com erro."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
        from routines.alerts.messages import Alert

        now = clock()
        state = json.loads(context.cursor) if context.cursor else {}
        graph = context.repository_def.asset_graph
        check_keys = list(graph.asset_check_keys)
        if "check" not in state:  # first tick: start from now, never alert the past
            latest = check_executions(context.instance, check_keys, 0)
            state = {"check": latest[-1][0] if latest else 0, "tick": now.timestamp()}
            context.update_cursor(json.dumps(state))
            return dg.SkipReason("primeiro tick: alertas a partir de agora")
        alerts = []
        for record_id, evaluation, run_id in check_executions(context.instance, check_keys, state["check"]):
            state["check"] = max(state["check"], record_id)
            if (
                evaluation is None
                or evaluation.passed
                or evaluation.severity != dg.AssetCheckSeverity.ERROR
                or evaluation.check_name == CHECK_NAME
            ):
                continue
            key = evaluation.asset_key
            node = graph.get(key) if graph.has(key) else None
            alerts.append(
                Alert(
                    kind="check_failed",
                    routine=key.to_user_string(),
                    partition=getattr(evaluation, "partition", None),
                    reason=f"a verificação {evaluation.check_name} falhou (severidade ERROR)"
                    + (f": {evaluation.description}" if evaluation.description else ""),
                    run_id=run_id,
                    run_url=run_url(run_id),
                    owners=tuple(node.owners or ()) if node else (),
                    groups=(node.group_name,) if node is not None and node.group_name else (),
                    subject=f"{key.to_user_string()}:{evaluation.check_name}",
                    at=now,
                )
            )
        for tick in failed_ticks(context.instance, state["tick"]):
            state["tick"] = max(state["tick"], tick.timestamp)
            if tick.instigator_name == name:  # never alert about itself
                continue
            error = tick.error.message.strip().splitlines()[-1] if tick.error else "erro sem mensagem"
            kind = "schedule" if tick.instigator_type.value == "SCHEDULE" else "sensor"
            alerts.append(
                Alert(
                    kind="tick_failed",
                    routine=tick.instigator_name,
                    reason=f"o tick do {kind} {tick.instigator_name} falhou: {error}",
                    subject=f"tick:{tick.instigator_name}",
                    at=datetime.fromtimestamp(tick.timestamp, UTC),
                )
            )
        dispatch_alerts(database, alerts, now, context.log)
        context.update_cursor(json.dumps(state))
        return dg.SkipReason(f"{len(alerts)} alertas")

    return _sensor


alert_events_sensor = build_alert_events_sensor()
