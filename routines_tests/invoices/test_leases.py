"""The RPA lease table: never more than `limit` leases, one per process, kept while a job may run, expired on the
database's clock, and every change a compare-and-set that fails loudly once the slot is gone."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, update

from routines.database.engine import get_engine, session_scope
from routines.invoices.leases import Busy, Lease, LeaseLost, RpaLeases, database_now
from routines.invoices.models import InvoiceProcess, RpaLease
from routines_tests.invoices.backfill import seed_operators


def count(engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(RpaLease))


def process_ids(url: str, clients: int = 2) -> list[int]:
    seed_operators(url, operators=1, clients=clients, month="2025-06-01")
    with session_scope(get_engine(url)) as session:
        return list(session.scalars(select(InvoiceProcess.id).order_by(InvoiceProcess.id)))


def move_clock_of_rows(engine, **seconds_from_now) -> None:
    """Set lease timestamps relative to the database's now (e.g. expires_at=-1: the heartbeat has passed)."""
    with session_scope(engine) as session:
        now = database_now(session)
        session.execute(
            update(RpaLease).values(
                **{column: now + timedelta(seconds=value) for column, value in seconds_from_now.items()}
            )
        )


def test_database_now_is_the_database_clock(db_url):
    with session_scope(get_engine(db_url)) as session:
        now = database_now(session)
    assert now.tzinfo is not None and abs((now - datetime.now(UTC)).total_seconds()) < 60


def test_concurrent_holders_never_exceed_the_limit(db_url):
    engine = get_engine(db_url)
    limit, inside, peak, lock = 3, [0], [0], threading.Lock()
    seen: list[int] = []  # lease rows counted by each holder while inside its slot
    errors: list[BaseException] = []  # raised in a worker thread: re-raised here, where it fails the test

    def worker(n: int) -> None:
        leases = RpaLeases(engine, limit, f"run:{n}")
        try:
            for _ in range(3):
                lease = None
                while not isinstance(lease, Lease):
                    lease = leases.take()
                    time.sleep(0.005)
                with lock:
                    inside[0] += 1
                    peak[0] = max(peak[0], inside[0])
                seen.append(count(engine))
                time.sleep(0.2)
                with lock:
                    inside[0] -= 1
                lease.release()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a holder never got a slot"
    if errors:
        raise errors[0]
    assert len(seen) == 8 * 3 and max(seen) <= limit, seen
    assert peak[0] == limit
    assert count(engine) == 0


def test_a_process_is_claimed_by_one_lease(db_url):
    engine = get_engine(db_url)
    first_id, second_id = process_ids(db_url)
    mine = RpaLeases(engine, 5, "run:a").take(first_id)
    assert isinstance(mine, Lease)
    other = RpaLeases(engine, 5, "run:b").take(first_id)
    assert isinstance(other, Busy) and other.live and other.holder == "run:a"
    assert isinstance(RpaLeases(engine, 5, "run:b").take(second_id), Lease)  # another process is free
    mine.release()
    assert isinstance(RpaLeases(engine, 5, "run:b").take(first_id), Lease)


def test_a_killed_runs_lease_without_a_job_expires(db_url):
    engine = get_engine(db_url)
    dead = RpaLeases(engine, 1, "run:killed", ttl=60)
    assert isinstance(dead.take(), Lease)  # never released: the run was killed before starting a job
    alive = RpaLeases(engine, 1, "run:next", ttl=60)
    assert alive.take() is None
    move_clock_of_rows(engine, expires_at=-1)
    lease = alive.take()
    assert isinstance(lease, Lease) and lease.slot == 0
    with session_scope(engine) as session:
        assert session.scalar(select(RpaLease.holder)) == "run:next"


def test_a_job_nobody_follows_keeps_its_slot_until_the_rpa_says_it_ended(db_url):
    engine = get_engine(db_url)
    (process_id,) = process_ids(db_url, clients=1)
    gone = RpaLeases(engine, 1, "run:gave-up", ttl=60, job_hold=3600)
    lease = gone.take(process_id)
    lease.starting()
    with session_scope(engine) as session:
        lease.started(session, "job-7")
    lease.abandon()  # e.g. the client's timeout: the job goes on at the RPA
    waiting = RpaLeases(engine, 1, "run:next")
    assert waiting.take() is None
    asked: list[str] = []
    assert waiting.free_ended_jobs(lambda job_id: asked.append(job_id) or False, every=0) == []
    assert waiting.take() is None and asked == ["job-7"]
    assert waiting.free_ended_jobs(lambda job_id: True, every=0) == ["job-7"]
    assert isinstance(waiting.take(), Lease)


def test_a_job_nobody_follows_is_taken_over_for_its_process(db_url):
    engine = get_engine(db_url)
    (process_id,) = process_ids(db_url, clients=1)
    lease = RpaLeases(engine, 1, "run:killed", ttl=60).take(process_id)
    lease.starting()
    with session_scope(engine) as session:
        lease.started(session, "job-9")
    other = RpaLeases(engine, 1, "run:next", ttl=60)
    assert isinstance(other.take(process_id), Busy)  # its holder is alive
    move_clock_of_rows(engine, expires_at=-1)  # ... until its heartbeat passes (killed)
    adopted = other.take(process_id)
    assert isinstance(adopted, Lease) and adopted.adopted and adopted.job_id == "job-9"
    assert adopted.job_started_at == lease.job_started_at and adopted.seconds_left(3600) > 3500
    with pytest.raises(LeaseLost):  # the killed holder cannot touch it any more
        lease.renew()


def test_a_start_without_an_answer_holds_its_slot_until_the_job_deadline(db_url):
    engine = get_engine(db_url)
    (process_id,) = process_ids(db_url, clients=1)
    lease = RpaLeases(engine, 1, "run:a", ttl=60, job_hold=120).take(process_id)
    lease.starting()  # POST sent, no job id came back
    lease.abandon()
    other = RpaLeases(engine, 1, "run:b")
    busy = other.take(process_id)
    assert isinstance(busy, Busy) and not busy.live and busy.job_id is None
    assert "pode estar em andamento no RPA até" in busy.describe()
    assert other.take() is None and other.free_ended_jobs(lambda job_id: True, every=0) == []
    move_clock_of_rows(engine, expires_at=-2, job_deadline=-1)
    assert isinstance(other.take(process_id), Lease)


def test_renew_pushes_the_expiry_on_the_database_clock(db_url):
    engine = get_engine(db_url)
    lease = RpaLeases(engine, 1, "run:a", ttl=30).take()
    move_clock_of_rows(engine, expires_at=1)
    lease.renew()
    with session_scope(engine) as session:
        left = (session.scalar(select(RpaLease.expires_at)) - database_now(session)).total_seconds()
    assert 25 < left <= 30


def test_a_worker_clock_ahead_does_not_expire_live_leases(db_url):
    engine = get_engine(db_url)
    live = RpaLeases(engine, 1, "run:live", ttl=300).take()
    assert isinstance(live, Lease)
    with session_scope(engine) as session:
        expires_at = session.scalar(select(RpaLease.expires_at))
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=10), tick=True):
        assert datetime.now(UTC) > expires_at  # by this worker's clock, the lease has expired
        assert RpaLeases(engine, 1, "run:ahead", ttl=300).take() is None
    live.renew()  # still its own


def test_the_heartbeat_renews_and_reports_a_lost_slot_once(db_url):
    engine = get_engine(db_url)
    leases = RpaLeases(engine, 1, "run:a", ttl=0.3)
    lease = leases.take()
    lost: list[LeaseLost] = []
    with leases.heartbeat(on_lost=lost.append):
        time.sleep(0.5)  # the heartbeat kept it alive past its ttl
        assert RpaLeases(engine, 1, "run:b").take() is None
        with session_scope(engine) as session:
            session.execute(update(RpaLease).values(token="someone-else"))
        deadline = time.monotonic() + 10
        while not lost and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    assert len(lost) == 1 and "run:a perdeu a vaga 0 do RPA" in str(lost[0])
    assert lease.lost is lost[0] and leases.held() == []
