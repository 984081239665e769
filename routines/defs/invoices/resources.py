"""Dagster resources `rpa` and `sat`: configuration only (URL and token from env vars); the clients are pure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:  # the clients (and requests) load when a run uses them, not with the code location
    from sqlalchemy import Engine

    from routines.invoices.leases import RpaLeases
    from routines.invoices.rpa import RpaClient
    from routines.invoices.sat import SatClient


class RpaResource(dg.ConfigurableResource):
    """The RPA API (docs/rpa-api.md). Token: ROUTINES_RPA_TOKEN; base URL: ROUTINES_RPA_BASE_URL."""

    base_url: str
    token: str = Field(description="bearer token (from ROUTINES_RPA_TOKEN); never logged")
    poll_interval_seconds: float = 2.0
    max_poll_interval_seconds: float = 30.0
    job_timeout_seconds: float = 3600.0
    request_attempts: int = 4
    retry_base_delay_seconds: float = 2.0
    request_timeout_seconds: float = 60.0
    max_jobs_in_flight: int = Field(
        default=0, description="hard bound on RPA jobs in flight; 0 = the limit of the Dagster pool `rpa`"
    )
    job_grace_seconds: float = Field(
        default=900.0,
        description="a job nobody follows any more keeps its slot until the RPA says it ended, at most "
        "job_timeout_seconds + this after its start",
    )
    lease_ttl_seconds: float = Field(
        default=60.0,
        description="a run's leases are renewed every ttl/3; a killed run's jobs are taken over after",
    )

    def get_client(self) -> RpaClient:
        from routines.http import HttpClient
        from routines.invoices.rpa import RpaClient

        http = HttpClient("RPA", self.base_url, self.token, timeout=(10.0, self.request_timeout_seconds))
        return RpaClient(
            http,
            poll_interval=self.poll_interval_seconds,
            max_poll_interval=self.max_poll_interval_seconds,
            job_timeout=self.job_timeout_seconds,
            request_attempts=self.request_attempts,
            retry_base_delay=self.retry_base_delay_seconds,
        )

    def get_leases(self, engine: Engine, limit: int, holder: str) -> RpaLeases:
        from routines.invoices.leases import RpaLeases

        return RpaLeases(
            engine,
            limit,
            holder,
            ttl=self.lease_ttl_seconds,
            job_hold=self.job_timeout_seconds + self.job_grace_seconds,
        )


class SatResource(dg.ConfigurableResource):
    """The SAT upload API (docs/sat-api.md). Token: ROUTINES_SAT_TOKEN; base URL: ROUTINES_SAT_BASE_URL."""

    base_url: str
    token: str = Field(description="bearer token (from ROUTINES_SAT_TOKEN); never logged")
    request_attempts: int = 4
    retry_base_delay_seconds: float = 2.0
    request_timeout_seconds: float = 120.0

    def get_client(self) -> SatClient:
        from routines.http import HttpClient
        from routines.invoices.sat import SatClient

        http = HttpClient("SAT", self.base_url, self.token, timeout=(10.0, self.request_timeout_seconds))
        return SatClient(
            http, request_attempts=self.request_attempts, retry_base_delay=self.retry_base_delay_seconds
        )


@dg.definitions
def resources() -> dg.Definitions:
    """URLs and tokens come from the environment when a run uses them, never from code or config files."""
    return dg.Definitions(
        resources={
            "rpa": RpaResource(
                base_url=dg.EnvVar("ROUTINES_RPA_BASE_URL"), token=dg.EnvVar("ROUTINES_RPA_TOKEN")
            ),
            "sat": SatResource(
                base_url=dg.EnvVar("ROUTINES_SAT_BASE_URL"), token=dg.EnvVar("ROUTINES_SAT_TOKEN")
            ),
        }
    )
