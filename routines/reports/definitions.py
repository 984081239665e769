"""Dagster definitions of the reports domain: the `reports` asset, its job and the schedule sensor."""

import dagster as dg

from routines.reports.assets import reports
from routines.reports.partitions import reports_partitions_def
from routines.reports.sensors import build_report_schedule_sensor

reports_job = dg.define_asset_job("reports_job", selection=[reports], partitions_def=reports_partitions_def)
report_schedule_sensor = build_report_schedule_sensor(reports_job)

defs = dg.Definitions(assets=[reports], jobs=[reports_job], sensors=[report_schedule_sensor])
