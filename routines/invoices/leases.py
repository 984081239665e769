"""A hard bound on the RPA jobs in flight, in the business database (pure: no Dagster).

The Dagster pool `rpa` decides which ops may start; its slot claims are not atomic when many runs claim at the
same moment (dagster 1.13 checks for a free slot, then takes it, in separate statements), and our tests saw it let
one op too many through. So each RPA job also holds a lease: a row of `invoice_rpa_leases` whose primary key is a
slot number 0..limit-1. Inserting a row is atomic on SQLite and PostgreSQL alike, so there are never more than
`limit` leases. A lease is deleted when its job ends; a killed run's lease expires after `ttl` seconds (renewed
while the job is being followed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError

from routines.database.base import utcnow
from routines.database.engine import session_scope
from routines.invoices.models import RpaLease


class Lease:
    def __init__(self, leases: RpaLeases, slot: int):
        self.leases = leases
        self.slot = slot
        self._renewed = time.monotonic()

    def renew(self) -> None:
        """Push the expiry back (cheap to call often: writes at most every ttl/3 seconds)."""
        if time.monotonic() - self._renewed < self.leases.ttl / 3:
            return
        with session_scope(self.leases.engine) as session:
            session.execute(
                update(RpaLease)
                .where(RpaLease.slot == self.slot, RpaLease.holder == self.leases.holder)
                .values(expires_at=utcnow() + timedelta(seconds=self.leases.ttl))
            )
        self._renewed = time.monotonic()


class RpaLeases:
    def __init__(
        self,
        engine: Engine,
        limit: int,
        holder: str,
        ttl: float = 300.0,
        poll_interval: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if limit < 1:
            raise ValueError(f"RPA job limit must be >= 1, got {limit}")
        self.engine = engine
        self.limit = limit
        self.holder = holder[:200]
        self.ttl = ttl
        self.poll_interval = poll_interval
        self.sleep = sleep

    def try_acquire(self) -> Lease | None:
        now = utcnow()
        with session_scope(self.engine) as session:
            session.execute(delete(RpaLease).where(RpaLease.expires_at < now))
        for slot in range(self.limit):
            try:
                with session_scope(self.engine) as session:
                    session.add(
                        RpaLease(
                            slot=slot,
                            holder=self.holder,
                            acquired_at=now,
                            expires_at=now + timedelta(seconds=self.ttl),
                        )
                    )
                    session.flush()
                return Lease(self, slot)
            except IntegrityError:
                continue
        return None

    @contextmanager
    def slot(self, on_wait: Callable[[], None] = lambda: None) -> Iterator[Lease]:
        """Wait for a free slot, hold it for the `with` block, give it back."""
        lease = self.try_acquire()
        if lease is None:
            on_wait()
        while lease is None:
            self.sleep(self.poll_interval)
            lease = self.try_acquire()
        try:
            yield lease
        finally:
            with session_scope(self.engine) as session:
                session.execute(
                    delete(RpaLease).where(RpaLease.slot == lease.slot, RpaLease.holder == self.holder)
                )
