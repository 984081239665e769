"""The invoices code location pieces load together with the shared resources; secrets come from env vars."""

from __future__ import annotations

import dagster as dg

from routines.invoices.definitions import defs
from routines.resources import DatabaseResource, FileStoreResource


def test_definitions_load_with_the_shared_resources():
    merged = dg.Definitions.merge(
        defs, dg.Definitions(resources={"database": DatabaseResource(), "file_store": FileStoreResource()})
    )
    dg.Definitions.validate_loadable(merged)
    repository = merged.get_repository_def()
    assert {s.name for s in repository.sensor_defs} == {
        "invoice_operator_partitions_sensor",
        "invoice_downloads_sensor",
        "invoice_approval_sensor",
    }
    schedule = repository.get_schedule_def("invoice_processes_schedule")
    assert schedule.execution_timezone == "America/Sao_Paulo"
    assert {job for job in ("invoice_processes_job", "invoice_downloads_job", "sat_uploads_job")} <= {
        job.name for job in repository.get_all_jobs()
    }


def test_tokens_and_urls_come_from_env_vars():
    rpa, sat = defs.resources["rpa"], defs.resources["sat"]
    assert rpa.token == dg.EnvVar("ROUTINES_RPA_TOKEN") and rpa.base_url == dg.EnvVar("ROUTINES_RPA_BASE_URL")
    assert sat.token == dg.EnvVar("ROUTINES_SAT_TOKEN") and sat.base_url == dg.EnvVar("ROUTINES_SAT_BASE_URL")
