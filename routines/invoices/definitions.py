"""Dagster definitions of the invoices domain: assets, schedules, sensors and its own resources `rpa`/`sat`."""

import dagster as dg

from routines.invoices.assets import (
    downloaded_invoices,
    invoice_downloads_job,
    invoice_processes,
    invoice_processes_job,
    sat_uploads,
    sat_uploads_job,
)
from routines.invoices.resources import RpaResource, SatResource
from routines.invoices.schedules import build_invoice_processes_schedule
from routines.invoices.sensors import (
    invoice_approval_sensor,
    invoice_downloads_sensor,
    invoice_operator_partitions_sensor,
)

defs = dg.Definitions(
    assets=[invoice_processes, downloaded_invoices, sat_uploads],
    jobs=[invoice_processes_job, invoice_downloads_job, sat_uploads_job],
    schedules=[build_invoice_processes_schedule()],
    sensors=[invoice_operator_partitions_sensor, invoice_downloads_sensor, invoice_approval_sensor],
    resources={
        "rpa": RpaResource(
            base_url=dg.EnvVar("ROUTINES_RPA_BASE_URL"), token=dg.EnvVar("ROUTINES_RPA_TOKEN")
        ),
        "sat": SatResource(
            base_url=dg.EnvVar("ROUTINES_SAT_BASE_URL"), token=dg.EnvVar("ROUTINES_SAT_TOKEN")
        ),
    },
)
