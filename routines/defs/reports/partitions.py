"""Partitions of the `reports` asset: report (dynamic, one readable key per active definition, e.g.
`BEG-resumo-diario`, kept in sync by the schedule sensor) x day (America/Sao_Paulo)."""

from __future__ import annotations

import dagster as dg

REPORT_PARTITIONS_NAME = "report_definitions"
report_partitions = dg.DynamicPartitionsDefinition(name=REPORT_PARTITIONS_NAME)
# end_offset=1: today's partition exists (a report runs on its own day).
day_partitions = dg.DailyPartitionsDefinition(
    start_date="2010-01-01", timezone="America/Sao_Paulo", end_offset=1
)
reports_partitions_def = dg.MultiPartitionsDefinition({"report": report_partitions, "day": day_partitions})

RUN_KEY_TAG = "routines/report_run_key"
TRIGGER_TAG = "routines/report_trigger"


def partition_key(report_key: str, day: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"report": report_key, "day": day})
