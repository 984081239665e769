"""Never more RPA jobs in flight than the limit, never two jobs for one process, and the whole limit used: each
case against the fake RPA, which counts the jobs in flight, with real threads or processes, on SQLite and
PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import delete, select

from routines.database.engine import get_engine, session_scope
from routines.files import FileStore
from routines.http import HttpClient
from routines.invoices import service
from routines.invoices.leases import Lease, LeaseLost, RpaLeases
from routines.invoices.models import InvoiceProcess, Operator, RpaLease
from routines.invoices.rpa import RpaClient
from routines_tests.helpers import REPO_ROOT
from routines_tests.invoices.backfill import seed_operators
from routines_tests.invoices.fakes import TOKEN, fake_rpa

MONTH = "2025-06-01"
CLIENT = {"poll_interval": 0.02, "max_poll_interval": 0.05, "retry_base_delay": 0.01, "job_timeout": 5.0}


def rpa_client(url: str, read_timeout: float = 5.0, **options) -> RpaClient:
    return RpaClient(HttpClient("RPA", url, TOKEN, timeout=(2.0, read_timeout)), **{**CLIENT, **options})


def make_leases(
    url: str, limit: int, holder: str, rpa: RpaClient, grace: float = 60.0, **options
) -> RpaLeases:
    """As the asset makes them: a started job holds its slot at most its timeout + `grace` (long here: the slots
    must come free because the RPA says the jobs ended)."""
    return RpaLeases(get_engine(url), limit, holder, job_hold=rpa.job_timeout + grace, **options)


def download(url, store, rpa_url, operator, limit, holder="run:a", log=None, leases=None, **client_options):
    client = rpa_client(rpa_url, **client_options)
    return service.download_partition(
        get_engine(url),
        FileStore(store),
        client,
        MONTH,
        operator,
        holder,
        log=log or (lambda message: None),
        leases=leases or make_leases(url, limit, holder, client),
    )


def statuses(url, operator: str | None = None) -> list[tuple[str, str | None]]:
    """(status, error) of the processes, in id order."""
    with session_scope(get_engine(url)) as session:
        query = select(InvoiceProcess.status, InvoiceProcess.error).order_by(InvoiceProcess.id)
        if operator:
            query = query.join(Operator).where(Operator.code == operator)
        return [tuple(row) for row in session.execute(query).all()]


def in_thread(target, *args, **kwargs) -> tuple[threading.Thread, dict]:
    """Run `target` in a thread; the dict gets its "result" or "error"."""
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = target(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


# -- item 6: a lease is held until the RPA says the job ended -------------------------------------------------------
def test_a_job_that_outlives_the_client_timeout_keeps_its_slot(db_url, tmp_path):
    """Limit 1: the first job runs longer than the client waits (the API has no cancel). The next job must not
    start while it runs on the RPA."""
    seed_operators(db_url, operators=1, clients=2, month=MONTH)

    def latency(endpoint, payload):
        return 1.2 if payload["cliente"]["nome"] == "Cliente 0" else 0.2

    with fake_rpa(latency_for=latency, log_lines=2) as (rpa_url, rpa):
        summary = download(db_url, tmp_path / "files", rpa_url, "OP00", limit=1, job_timeout=0.4)
        assert len(rpa.jobs) == 2
        assert rpa.max_in_flight == 1
    assert len(summary.failed) == 1 and "não terminou em 0.4 s" in summary.failed[0]["error"]
    assert [status for status, _ in statuses(db_url)] == ["FALHA_DOWNLOAD", "AGUARDANDO_APROVACAO"]


def test_503s_while_polling_keep_the_slot(db_url, tmp_path):
    """Limit 1, two partitions at once: the status of the first job answers 503 more times than the client
    retries a request. Its slot must stay taken while the job runs, so the other partition waits."""
    seed_operators(db_url, operators=2, clients=1, month=MONTH)
    failures = {"left": 8}

    def fail_request(method, path):
        if method == "GET" and path.startswith("/jobs/job-00001") and failures["left"] > 0:
            failures["left"] -= 1
            return 503
        return None

    with fake_rpa(latency=1.0, log_lines=2, fail_request=fail_request) as (rpa_url, rpa):
        first, first_outcome = in_thread(
            download, db_url, tmp_path / "files", rpa_url, "OP00", limit=1, holder="run:a", request_attempts=3
        )
        wait_for(lambda: len(rpa.jobs) == 1)
        second, second_outcome = in_thread(
            download, db_url, tmp_path / "files", rpa_url, "OP01", limit=1, holder="run:b", request_attempts=3
        )
        first.join(60)
        second.join(60)
        assert rpa.max_in_flight == 1
        assert failures["left"] == 0  # the 503s were really served
    assert "error" not in first_outcome and "error" not in second_outcome, (first_outcome, second_outcome)
    assert [status for status, _ in statuses(db_url)] == ["AGUARDANDO_APROVACAO"] * 2


# -- item 6: renewal that finds its slot gone -------------------------------------------------------------------------
def take_slot_away(url: str, slot: int = 0) -> None:
    """Another worker now holds `slot` (the holder's row is gone)."""
    from datetime import timedelta

    from routines.database.base import utcnow

    with session_scope(get_engine(url)) as session:
        session.execute(delete(RpaLease).where(RpaLease.slot == slot))
        now = utcnow()
        session.add(
            RpaLease(
                slot=slot,
                token="other",
                holder="run:other",
                acquired_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )


def test_renew_fails_loudly_when_the_slot_was_taken(db_url):
    engine = get_engine(db_url)
    lease = RpaLeases(engine, 1, "run:a", ttl=60).take()
    assert isinstance(lease, Lease)
    take_slot_away(db_url)
    with pytest.raises(LeaseLost, match="run:a perdeu a vaga 0 do RPA"):
        lease.renew()
    with pytest.raises(LeaseLost):  # and it stays lost: nothing may be started under it
        lease.starting()


def test_a_holder_whose_slot_is_gone_starts_nothing_more(db_url, tmp_path):
    seed_operators(db_url, operators=1, clients=3, month=MONTH)
    messages: list[str] = []
    with fake_rpa(latency=0.6, log_lines=2) as (rpa_url, rpa):
        worker, outcome = in_thread(
            download, db_url, tmp_path / "files", rpa_url, "OP00", limit=1, log=messages.append
        )
        wait_for(lambda: len(rpa.jobs) == 1)
        take_slot_away(db_url)
        worker.join(20)
        stuck = worker.is_alive()
        with session_scope(get_engine(db_url)) as session:  # let a stuck worker end
            session.execute(delete(RpaLease))
        worker.join(20)
        assert not stuck, "the holder waited forever for the slot it had lost"
        assert len(rpa.jobs) == 1  # nothing started after the slot was gone
    assert "perdeu a vaga" in str(outcome.get("error")), outcome
    assert any("perdeu a vaga" in message for message in messages)
    assert [status for status, _ in statuses(db_url)] == [
        "AGUARDANDO_APROVACAO",
        "AGUARDANDO_DOWNLOAD",
        "AGUARDANDO_DOWNLOAD",
    ]


# -- item 6: expiry on the database's clock -----------------------------------------------------------------------------
AHEAD_WORKER = """
import sys
from datetime import UTC, datetime, timedelta

import time_machine

time_machine.travel(datetime.now(UTC) + timedelta(minutes=10), tick=True).start()  # this worker's clock only

from routines_tests.invoices.test_rpa_limit import download

url, store, rpa_url, operator = sys.argv[1:5]
print("ready", flush=True)
sys.stdin.readline()
download(url, store, rpa_url, operator, limit=1, holder="run:ahead")
print("done", flush=True)
"""


def start_worker(script: str, *args: str) -> subprocess.Popen:
    """A worker process that prints "ready" once imported, then waits for a line on stdin to begin."""
    worker = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout.readline().strip() == "ready"
    return worker


def go(worker: subprocess.Popen) -> None:
    worker.stdin.write("go\n")
    worker.stdin.flush()


def test_a_worker_clock_ten_minutes_ahead_does_not_delete_live_leases(db_url, tmp_path):
    seed_operators(db_url, operators=2, clients=1, month=MONTH)
    with fake_rpa(latency=1.5, log_lines=2) as (rpa_url, rpa):
        ahead = start_worker(AHEAD_WORKER, db_url, str(tmp_path / "files"), rpa_url, "OP01")
        first, outcome = in_thread(download, db_url, tmp_path / "files", rpa_url, "OP00", limit=1)
        wait_for(lambda: len(rpa.jobs) == 1)
        go(ahead)  # while the first job runs, under a live lease
        output = ahead.communicate(timeout=120)[0]
        first.join(60)
        assert len(rpa.jobs) == 2
        assert rpa.max_in_flight == 1
        assert "done" in output and "error" not in outcome, (output, outcome)
    assert [status for status, _ in statuses(db_url)] == ["AGUARDANDO_APROVACAO"] * 2


# -- item 6: a process is claimed before its job starts ----------------------------------------------------------------
OVERLAP_WORKER = """
import sys

from routines_tests.invoices.test_rpa_limit import download

url, store, rpa_url, operator, holder = sys.argv[1:6]
print("ready", flush=True)
sys.stdin.readline()
download(url, store, rpa_url, operator, limit=5, holder=holder)
print("done", flush=True)
"""


def test_two_overlapping_runs_of_one_partition_start_one_job_per_process(db_url, tmp_path):
    seed_operators(db_url, operators=1, clients=4, month=MONTH)
    with fake_rpa(latency=0.5, log_lines=2) as (rpa_url, rpa):
        workers = [
            start_worker(OVERLAP_WORKER, db_url, str(tmp_path / "files"), rpa_url, "OP00", holder)
            for holder in ("run:first", "run:second")
        ]
        for worker in workers:  # both runs start together
            go(worker)
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
        assert sorted(rpa.jobs_per_process().values()) == [1, 1, 1, 1]
        assert all("done" in output for output in outputs), outputs
    assert [status for status, _ in statuses(db_url)] == ["AGUARDANDO_APROVACAO"] * 4


# -- item 5: POST /executar is not repeated once it may have reached the RPA -------------------------------------
def test_a_start_whose_answer_is_lost_is_not_repeated(db_url, tmp_path):
    seed_operators(db_url, operators=1, clients=2, month=MONTH)
    with fake_rpa(latency=0.3, log_lines=2, lost_answers=[502]) as (rpa_url, rpa):
        summary = download(db_url, tmp_path / "files", rpa_url, "OP00", limit=1)
        assert rpa.jobs_per_process() == {1: 1}  # the job started; no second one for the same process
        assert rpa.max_in_flight == 1
    assert len(summary.failed) == 1 and "pode ter iniciado" in summary.failed[0]["error"]
    status, error = statuses(db_url)[0]
    assert status == "FALHA_DOWNLOAD" and "HTTP 502" in error
    with session_scope(get_engine(db_url)) as session:  # its slot stays taken: the job may be running
        assert session.scalar(select(RpaLease.process_id)) == 1


def test_a_start_that_times_out_is_not_repeated(db_url, tmp_path):
    seed_operators(db_url, operators=1, clients=1, month=MONTH)
    with fake_rpa(latency=0.3, log_lines=2, lost_answers=["timeout"], lost_answer_delay=1.5) as (
        rpa_url,
        rpa,
    ):
        summary = download(db_url, tmp_path / "files", rpa_url, "OP00", limit=1, read_timeout=0.3)
        assert rpa.jobs_per_process() == {1: 1}
    assert len(summary.failed) == 1 and "pode ter iniciado" in summary.failed[0]["error"]
    assert statuses(db_url)[0][0] == "FALHA_DOWNLOAD"


# -- item 7: the limit used in full ----------------------------------------------------------------------------------------
def test_one_partition_uses_the_whole_limit(db_url, tmp_path):
    seed_operators(db_url, operators=1, clients=7, month=MONTH)
    with fake_rpa(latency=0.4, log_lines=2) as (rpa_url, rpa):
        summary = download(db_url, tmp_path / "files", rpa_url, "OP00", limit=3)
        assert rpa.max_in_flight == 3
        assert sorted(rpa.jobs_per_process().values()) == [1] * 7
    assert len(summary.downloaded) == 7
    assert [status for status, _ in statuses(db_url)] == ["AGUARDANDO_APROVACAO"] * 7
