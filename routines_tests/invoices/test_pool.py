"""The `rpa` concurrency pool and the RPA leases bound the jobs in flight across concurrent runs (a backfill of
many month x operator partitions, each run its own process), and one run uses the whole limit; measured by the fake
RPA server. Jobs last long enough (1 s) that the runs overlap on a busy machine."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import func, select

from routines.database.engine import get_engine, session_scope
from routines.defs.invoices.assets import downloaded_invoices, month_operator_key
from routines.invoices.models import InvoiceProcess
from routines_tests.invoices.backfill import run_backfill, seed_operators
from routines_tests.invoices.conftest import make_resources
from routines_tests.invoices.fakes import fake_rpa


def test_pool_limit_holds_under_a_backfill(sqlite_db_url, tmp_path):
    limit = 2
    codes = seed_operators(sqlite_db_url, operators=6, clients=2, month="2025-06-01")
    with (
        fake_rpa(latency=1.0, log_lines=2) as (rpa_url, rpa),
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
    ):
        instance.event_log_storage.set_concurrency_slots("rpa", limit)
        instance.add_dynamic_partitions("invoice_operators", codes)
        result = run_backfill(instance, sqlite_db_url, tmp_path / "files", rpa_url, "2025-06-01", codes)
        assert len(result.outcomes) == len(codes) and all(result.outcomes.values()), result.outcomes
        print("backfill seconds", result.seconds)
        assert len(rpa.jobs) == 12
        assert rpa.max_in_flight == limit  # reached, never exceeded
        # every slot was given back
        assert instance.event_log_storage.get_concurrency_info("rpa").active_slot_count == 0
        # the Dagster pool did the scheduling: runs had their op held back by it (how many depends on timing)
        messages = {
            run.run_id: [entry.message for entry in instance.all_logs(run.run_id)]
            for run in instance.get_runs()
        }
        blocked = [rid for rid, logs in messages.items() if "Step blocked by limit for pool rpa" in logs]
        assert blocked
        lease_waits = sum("aguardando vaga no RPA" in m for logs in messages.values() for m in logs)
        print(f"runs held by the pool: {len(blocked)}; jobs held by the lease: {lease_waits}")
    with session_scope(get_engine(sqlite_db_url)) as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(InvoiceProcess)
                .where(InvoiceProcess.status == "AGUARDANDO_APROVACAO")
            )
            == 12
        )


def test_without_the_pool_the_same_backfill_exceeds_the_limit(sqlite_db_url, tmp_path):
    """Control: the limit is what bounds the concurrency (no pool limit set -> the default bound of 5 -> the 4
    runs have their 4 jobs in flight at once; jobs of 4 s so that they overlap on a busy machine)."""
    codes = seed_operators(sqlite_db_url, operators=4, clients=1, month="2025-06-01")
    with (
        fake_rpa(latency=4.0, log_lines=2) as (rpa_url, rpa),
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
    ):
        instance.add_dynamic_partitions("invoice_operators", codes)
        result = run_backfill(instance, sqlite_db_url, tmp_path / "files", rpa_url, "2025-06-01", codes)
        assert all(result.outcomes.values()), result.outcomes
        assert rpa.max_in_flight == 4


def test_one_partition_uses_the_whole_limit(sqlite_db_url, tmp_path):
    """One operator with more clients than the limit: one op follows up to the limit's jobs at once."""
    codes = seed_operators(sqlite_db_url, operators=1, clients=7, month="2025-06-01")
    with (
        fake_rpa(latency=0.5, log_lines=2) as (rpa_url, rpa),
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
    ):
        instance.event_log_storage.set_concurrency_slots("rpa", 3)
        instance.add_dynamic_partitions("invoice_operators", codes)
        result = dg.materialize(
            [downloaded_invoices],
            partition_key=month_operator_key("2025-06-01", codes[0]),
            instance=instance,
            resources=make_resources(sqlite_db_url, tmp_path / "files", rpa_url),
        )
        assert result.success
        assert rpa.max_in_flight == 3  # the whole limit, never more
        assert sorted(rpa.jobs_per_process().values()) == [1] * 7
        lines = [
            line for entry in instance.all_logs(result.run_id) for line in entry.user_message.splitlines()
        ]
        for job in rpa.jobs.values():  # every job's log lines reached the run log, each once
            for line in job.lines:
                assert sum(logged.endswith(f"] {line}") for logged in lines) == 1
    metadata = result.asset_materializations_for_node("downloaded_invoices")[0].metadata
    assert metadata["downloaded"].value == 7


def test_the_lease_limit_follows_the_pool(tmp_path):
    from routines.defs.invoices.assets import rpa_job_limit
    from routines.defs.invoices.resources import RpaResource

    rpa = RpaResource(base_url="http://rpa", token="t")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert rpa_job_limit(instance, rpa) == 5  # nothing configured
        instance.event_log_storage.set_concurrency_slots("rpa", 3)
        assert rpa_job_limit(instance, rpa) == 3
        assert (
            rpa_job_limit(instance, RpaResource(base_url="http://rpa", token="t", max_jobs_in_flight=2)) == 2
        )
    overrides = {"concurrency": {"pools": {"granularity": "op", "default_limit": 4}}}
    (tmp_path / "other").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "other"), overrides=overrides) as instance:
        assert rpa_job_limit(instance, rpa) == 4


def test_download_op_is_in_the_rpa_pool_and_upload_op_in_the_sat_pool():
    from routines.defs.invoices.assets import downloaded_invoices, sat_uploads

    assert downloaded_invoices.op.pool == "rpa"
    assert sat_uploads.op.pool == "sat"
