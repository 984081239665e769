"""Helpers of the catalog tests: the demo routines as specs, definitions and resources."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from routines.catalog.schema import RoutineSpec, parse_routine, read_file
from routines.lib.catalog import build_routine_defs
from routines.lib.resources import DatabaseResource, FileStoreResource

DEMO = Path(__file__).resolve().parents[2] / "routines" / "defs" / "catalog"


def demo_spec(name: str) -> RoutineSpec:
    specs, errors = read_file(DEMO / name / "defs.yaml")
    assert not errors, errors
    return specs[0]


def spec(data: dict) -> RoutineSpec:
    found, errors = parse_routine(data, "test.yaml")
    assert not errors, [str(e) for e in errors]
    return found


def defs_of(*specs: RoutineSpec) -> dg.Definitions:
    return dg.Definitions.merge(*(build_routine_defs(s, "test") for s in specs))


def resources(db_url: str, store: Path) -> dict:
    return {"database": DatabaseResource(url=db_url), "file_store": FileStoreResource(root=str(store))}


def assets_of(defs: dg.Definitions) -> list:
    return list(defs.assets or [])
