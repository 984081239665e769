"""Housekeeping: retention of Dagster runs and their logs, of the file store and of read notifications, and
backups of the business database (pure code; the Dagster glue is in `routines.defs.housekeeping`)."""
