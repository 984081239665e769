"""Exports: files and actions people ask for (the legacy TaskQueue), run by Dagster with progress.

Pure code (no Dagster): the `export_tasks` table, payload schemas and renderers per type in one registry
(`routines.exports.registry`), the task life cycle (`routines.exports.service`) and the cleanup of old files.
The Dagster glue is in `routines/defs/exports/`.
"""
