"""The RPA lease table: never more than `limit` leases, released on exit, expired leases of killed runs reused."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from routines.database.base import utcnow
from routines.database.engine import get_engine, session_scope
from routines.invoices.leases import RpaLeases
from routines.invoices.models import RpaLease


def count(engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(RpaLease))


def test_concurrent_holders_never_exceed_the_limit(db_url):
    engine = get_engine(db_url)
    limit, inside, peak, lock = 3, [0], [0], threading.Lock()
    seen: list[int] = []  # lease rows counted by each holder while inside its slot
    errors: list[BaseException] = []  # raised in a worker thread: re-raised here, where it fails the test

    def worker(n: int) -> None:
        try:
            leases = RpaLeases(engine, limit, f"run:{n}", poll_interval=0.01)
            for _ in range(3):
                with leases.slot():
                    with lock:
                        inside[0] += 1
                        peak[0] = max(peak[0], inside[0])
                    seen.append(count(engine))
                    time.sleep(0.02)
                    with lock:
                        inside[0] -= 1
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


def test_a_killed_runs_lease_expires(db_url):
    engine = get_engine(db_url)
    dead = RpaLeases(engine, 1, "run:killed", ttl=60)
    assert dead.try_acquire() is not None  # never released: the run was killed
    alive = RpaLeases(engine, 1, "run:next", ttl=60)
    assert alive.try_acquire() is None
    with session_scope(engine) as session:
        session.execute(update(RpaLease).values(expires_at=utcnow() - timedelta(seconds=1)))
    lease = alive.try_acquire()
    assert lease is not None and lease.slot == 0
    with session_scope(engine) as session:
        assert session.scalar(select(RpaLease.holder)) == "run:next"


def test_waiting_is_reported_once_and_renew_pushes_the_expiry(db_url):
    engine = get_engine(db_url)
    first = RpaLeases(engine, 1, "run:a", ttl=3)
    held = first.try_acquire()
    waits: list[int] = []
    second = RpaLeases(engine, 1, "run:b", poll_interval=0.01)
    released = threading.Timer(0.2, lambda: first_release())

    def first_release():
        with session_scope(engine) as session:
            session.query(RpaLease).filter_by(holder="run:a").delete()

    released.start()
    with second.slot(on_wait=lambda: waits.append(1)) as lease:
        assert lease.slot == 0
    released.join()
    assert waits == [1] and count(engine) == 0
    del held
    lease = first.try_acquire()
    with session_scope(engine) as session:
        before = session.scalar(select(RpaLease.expires_at))
    lease._renewed -= 10  # pretend ttl/3 has passed
    lease.renew()
    with session_scope(engine) as session:
        assert session.scalar(select(RpaLease.expires_at)) > before
