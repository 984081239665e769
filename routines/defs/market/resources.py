"""Dagster resources of the market domain: the B3 and CVM download sites (thin glue over routines.http)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from routines.market import settings

if TYPE_CHECKING:  # requests loads when a run downloads, not with the code location
    from routines.http import HttpClient


class B3CotahistSite(dg.ConfigurableResource):
    """B3 historical quotes site. `base_url` empty = ROUTINES_B3_BASE_URL or the real B3 URL."""

    base_url: str = ""
    read_timeout_seconds: float = 300.0

    def resolved_base_url(self) -> str:
        return self.base_url or settings.b3_base_url()

    def client(self) -> HttpClient:
        from routines.http import HttpClient

        return HttpClient("B3", self.resolved_base_url(), timeout=(10.0, self.read_timeout_seconds))


class CvmFundsSite(dg.ConfigurableResource):
    """CVM open data site (Informe Diário). `base_url` empty = ROUTINES_CVM_BASE_URL or the real CVM URL."""

    base_url: str = ""
    read_timeout_seconds: float = 300.0

    def resolved_base_url(self) -> str:
        return self.base_url or settings.cvm_base_url()

    def client(self) -> HttpClient:
        from routines.http import HttpClient

        return HttpClient("CVM", self.resolved_base_url(), timeout=(10.0, self.read_timeout_seconds))


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"b3_cotahist_site": B3CotahistSite(), "cvm_funds_site": CvmFundsSite()})
