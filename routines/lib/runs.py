"""Reading a finished run in run-status sensors: its error as people should read it, and its assets' owners."""

from __future__ import annotations

import dagster as dg


def root_cause(error) -> str:
    """The user's own error, not Dagster's wrapper around it."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def run_failure_message(context: dg.RunFailureSensorContext) -> str:
    """`step: root error` for each failed step, else the run failure event's message."""
    step_errors = [
        f"{event.step_key}: {root_cause(event.step_failure_data.error)}"
        for event in context.get_step_failure_events()
        if event.step_failure_data.error is not None
    ]
    return "; ".join(step_errors) or context.failure_event.message or ""


def failed_assets(context: dg.RunFailureSensorContext) -> list[dg.AssetKey]:
    """The assets of the failed steps (all the run's selected assets when the steps cannot be mapped)."""
    run = context.dagster_run
    keys: list[dg.AssetKey] = []
    repository = context.repository_def
    if repository is not None and repository.has_job(run.job_name):
        from dagster._core.definitions.dependency import NodeHandle

        layer = repository.get_job(run.job_name).asset_layer
        for event in context.get_step_failure_events():
            node = (event.step_key or "").split("[", 1)[0]
            try:
                assets_def = layer.get_assets_def_for_node(NodeHandle.from_string(node))
            except Exception:  # noqa: BLE001 - an op that is not an asset has no owners
                assets_def = None
            if assets_def is not None:
                keys.extend(key for key in assets_def.keys if key not in keys)
    return keys or list(run.asset_selection or ())


def asset_owners(context: dg.RunFailureSensorContext, keys: list[dg.AssetKey]) -> tuple[str, ...]:
    """The `owners` of these assets in the code location (e-mails and team:names)."""
    repository = context.repository_def
    if repository is None:
        return ()
    graph = repository.asset_graph
    owners: list[str] = []
    for key in keys:
        if graph.has(key):
            owners.extend(owner for owner in graph.get(key).owners if owner not in owners)
    return tuple(owners)
