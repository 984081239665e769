"""Routine catalog: routines declared in YAML (schema, templating, file parsing, tables, schedule decisions).

Pure Python (no Dagster import); the Dagster glue is `routines.lib.catalog` (the `Routine` and
`RoutineFolder` components) and `routines/defs/catalog/`.
"""
