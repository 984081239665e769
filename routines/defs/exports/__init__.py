"""Dagster glue of the exports domain: the sensor that runs pending tasks, the job that runs one task, the
run-status sensors that settle tasks whose run died, and the daily cleanup of old task files."""
