"""Shared pieces of the alerts glue: reading declarations from the asset graph, the run link, dispatching."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import dagster as dg

from routines.alerts.deadlines import CATCH_UP_TAG, METADATA_KEY, Deadline

UI_URL_ENV = "ROUTINES_DAGSTER_UI_URL"


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_url(run_id: str | None) -> str | None:
    base = os.environ.get(UI_URL_ENV, "").strip().rstrip("/")
    return f"{base}/runs/{run_id}" if base and run_id else None


def declared_deadlines(asset_graph) -> list[tuple[dg.AssetKey, Deadline, object]]:
    """(key, deadline, node) of every asset declaring `routines/deadline` (external ones too: reported
    materializations count)."""
    found = []
    for key in sorted(asset_graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = asset_graph.get(key)
        value = (node.metadata or {}).get(METADATA_KEY)
        if value is not None:
            found.append((key, Deadline.parse(value, key.to_user_string()), node))
    return found


def catch_up_lookback(node) -> int | None:
    raw = (node.tags or {}).get(CATCH_UP_TAG)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"{node.key.to_user_string()}: tag {CATCH_UP_TAG}={raw!r}: expected a number of business days"
        ) from None
    return value if value > 0 else None


def first_partition(node) -> str | None:
    partitions_def = node.partitions_def
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return partitions_def.start.strftime("%Y-%m-%d")
    return None


def dispatch_alert(database, alert, now: datetime, log, notify: bool = True):
    return dispatch_alerts(database, [alert], now, log, notify)[0]


def dispatch_alerts(database, alerts, now: datetime, log, notify: bool = True):
    """Dispatch alerts in one transaction (their notification rows and delivery records commit together)."""
    from routines.alerts.service import dispatch

    results = []
    if not alerts:
        return results
    with database.session() as session:
        for alert in alerts:
            result = dispatch(session, alert, now, notify=notify)
            results.append(result)
            log.info(
                f"alerta {alert.kind} {alert.key}: enviado por {', '.join(result.sent) or 'nenhum canal'}"
                + (f"; silenciado em {', '.join(result.suppressed)}" if result.suppressed else "")
                + (f"; erros: {result.errors}" if result.errors else "")
            )
    return results
