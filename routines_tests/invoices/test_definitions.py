"""The invoices pieces load in the code location with the shared resources; secrets come from env vars."""

from __future__ import annotations

import dagster as dg

from routines_tests.helpers import load_code_location


def test_invoice_sensors_schedule_and_jobs_are_in_the_code_location():
    repository = load_code_location().get_repository_def()
    assert {
        "invoice_operator_partitions_sensor",
        "invoice_downloads_sensor",
        "invoice_approval_sensor",
    } <= {s.name for s in repository.sensor_defs}
    schedule = repository.get_schedule_def("invoice_processes_schedule")
    assert schedule.execution_timezone == "America/Sao_Paulo"
    jobs = {job.name for job in repository.get_all_jobs()}
    assert {"invoice_processes_job", "invoice_downloads_job", "sat_uploads_job"} <= jobs


def test_tokens_and_urls_come_from_env_vars():
    resources = load_code_location().resources
    rpa, sat = resources["rpa"], resources["sat"]
    assert rpa.token == dg.EnvVar("ROUTINES_RPA_TOKEN") and rpa.base_url == dg.EnvVar("ROUTINES_RPA_BASE_URL")
    assert sat.token == dg.EnvVar("ROUTINES_SAT_TOKEN") and sat.base_url == dg.EnvVar("ROUTINES_SAT_BASE_URL")
