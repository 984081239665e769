"""Dagster definitions of the notifications domain."""

import dagster as dg

from routines.notifications.sensors import notify_failed_runs

defs = dg.Definitions(sensors=[notify_failed_runs])
