"""Dagster definitions of the market domain: assets, checks, schedules, sensors and its own resources."""

import dagster as dg

defs = dg.Definitions()
