"""A download run killed midway (SIGKILL) leaves no process half-moved and its job's slot taken; re-running takes
the job over instead of starting a second one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import dagster as dg
from sqlalchemy import func, select

from routines.database.engine import get_engine, session_scope
from routines.defs.invoices.assets import downloaded_invoices, month_operator_key
from routines.invoices import service
from routines.invoices.leases import database_now
from routines.invoices.models import InvoiceProcess, ProcessTransition, RpaLease
from routines_tests.helpers import REPO_ROOT
from routines_tests.invoices.conftest import make_resources
from routines_tests.invoices.fakes import TOKEN, fake_rpa

WORKER = """
import sys
from routines.database.engine import get_engine
from routines.files import FileStore
from routines.http import HttpClient
from routines.invoices import service
from routines.invoices.leases import RpaLeases
from routines.invoices.rpa import RpaClient
url, root, rpa_url, token = sys.argv[1:5]
client = RpaClient(HttpClient("RPA", rpa_url, token), poll_interval=0.02, max_poll_interval=0.05)
leases = RpaLeases(get_engine(url), 1, "run:killed", ttl=1.0)  # one job at a time; heartbeat every 1/3 s
service.download_partition(
    get_engine(url), FileStore(root), client, "2025-06-01", "VIVO", "run:killed", leases=leases
)
"""


def test_killed_download_leaves_no_half_moved_process_and_rerun_resumes(seeded_sqlite_url, tmp_path):
    url = seeded_sqlite_url
    with session_scope(get_engine(url)) as session:
        service.create_month_processes(session, date(2025, 6, 1), "test")
    root = tmp_path / "files"
    with fake_rpa(latency=0.4, log_lines=3) as (rpa_url, rpa):
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(root), rpa_url, TOKEN],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        deadline = time.monotonic() + 30
        while len(rpa.jobs) < 2 and time.monotonic() < deadline:  # kill while the 2nd job is in flight
            time.sleep(0.01)
        time.sleep(0.1)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert len(rpa.jobs) == 2
        assert rpa.max_in_flight == 1

        with session_scope(get_engine(url)) as session:
            rows = session.scalars(
                select(InvoiceProcess)
                .join(InvoiceProcess.operator)
                .where(InvoiceProcess.operator.has(code="VIVO"))
                .order_by(InvoiceProcess.id)
            ).all()
            assert [p.status for p in rows] == [
                "AGUARDANDO_APROVACAO",
                "AGUARDANDO_DOWNLOAD",
                "AGUARDANDO_DOWNLOAD",
            ]
            done, interrupted = rows[0], rows[1]
            assert done.file_key and (root / done.file_key).is_file()
            # the interrupted one: its job id is noted, nothing else moved
            assert (
                interrupted.job_id in rpa.jobs and interrupted.file_key is None and interrupted.error is None
            )
            moves = dict(
                session.execute(
                    select(ProcessTransition.process_id, func.count())
                    .where(ProcessTransition.from_status.is_not(None))
                    .group_by(ProcessTransition.process_id)
                ).all()
            )
            assert moves == {done.id: 1}

            # the killed run's job still runs on the RPA: its slot stays taken, naming the process and the job
            lease = session.scalar(select(RpaLease))
            assert (lease.process_id, lease.job_id, lease.holder) == (
                interrupted.id,
                interrupted.job_id,
                "run:killed",
            )

        # once its heartbeat has passed (1 s, on the database's clock), the job may be taken over
        deadline = time.monotonic() + 30
        while True:
            with session_scope(get_engine(url)) as session:
                if session.scalar(select(RpaLease.expires_at)) < database_now(session):
                    break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions("invoice_operators", ["VIVO"])
            result = dg.materialize(
                [downloaded_invoices],
                partition_key=month_operator_key("2025-06-01", "VIVO"),
                instance=instance,
                resources=make_resources(url, root, rpa_url),
            )
        assert result.success
        assert (
            result.asset_materializations_for_node("downloaded_invoices")[0].metadata["downloaded"].value == 2
        )
        # the job the killed run was following is resumed, not started again: 3 jobs for 3 invoices
        assert len(rpa.jobs) == 3
        assert sorted(rpa.jobs_per_process().values()) == [1, 1, 1]
    with session_scope(get_engine(url)) as session:
        rows = session.scalars(select(InvoiceProcess).where(InvoiceProcess.operator.has(code="VIVO"))).all()
        assert {p.status for p in rows} == {"AGUARDANDO_APROVACAO"}
        for process in rows:
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(ProcessTransition)
                    .where(
                        ProcessTransition.process_id == process.id,
                        ProcessTransition.to_status == "AGUARDANDO_APROVACAO",
                    )
                )
                == 1
            )
