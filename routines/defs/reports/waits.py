"""Reports that wait for their data: which of the assets a report reads lack the report day's partition."""

from __future__ import annotations

import dagster as dg


def missing_assets(instance: dg.DagsterInstance, assets: list[str], day: str) -> list[str]:
    """The assets (user strings, e.g. "b3_quotes") without a materialization of partition `day`."""
    missing = []
    for name in assets:
        key = dg.AssetKey.from_user_string(name)
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
        ).records
        if not records:
            missing.append(name)
    return missing
