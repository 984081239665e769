"""Dagster building blocks shared by the domains' defs: resources, business-day partitions and schedules."""
