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
    """The assets computed by the failed steps (the run's selected assets when no step maps to an asset)."""
    run = context.dagster_run
    keys: list[dg.AssetKey] = []
    repository = context.repository_def
    if repository is not None:
        by_op: dict[str, list[dg.AssetKey]] = {}
        for assets_def in set(repository.assets_defs_by_key.values()):
            if assets_def.is_executable:
                by_op.setdefault(assets_def.op.name, []).extend(assets_def.keys)
        for event in context.get_step_failure_events():
            node = (event.step_key or "").split("[", 1)[0].rsplit(".", 1)[-1]
            keys.extend(key for key in by_op.get(node, []) if key not in keys)
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


def dagster_will_retry(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether the instance's run retries will re-execute this failed run. A run failed from outside (run
    monitoring's start timeout) gets its `dagster/will_retry` tag only when the retry daemon looks at it, maybe
    after this sensor: then decide as that daemon does (and record it, as it does)."""
    tag = run.tags.get("dagster/will_retry")
    if tag is not None:
        return tag == "true"
    from dagster._daemon.auto_run_reexecution.auto_run_reexecution import should_retry

    return should_retry(run, instance)
