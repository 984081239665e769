"""Client of the SAT (Sistema de Automação Tributária) invoice upload API (contract: docs/sat-api.md).

Pure (no Dagster). Every upload carries an `Idempotency-Key` header: the SAT stores a key's invoice once and
answers a repeated key with the protocol of the first upload, so retries and re-runs never upload twice.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from routines.http import HttpClient, HttpError, call_with_retries


class SatProtocolError(HttpError):
    """The SAT answered something the contract does not allow (fatal)."""


@dataclass(frozen=True)
class Receipt:
    protocol: str
    duplicate: bool  # True when the SAT had already stored this idempotency key


def idempotency_key(process_id: int, sha256: str) -> str:
    """One key per process and file content: the same invoice file of a process is uploaded at most once."""
    return f"routines-fatura-{process_id}-{sha256[:16]}"


class SatClient:
    def __init__(
        self,
        http: HttpClient,
        request_attempts: int = 4,
        retry_base_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.http = http
        self.request_attempts = request_attempts
        self.retry_base_delay = retry_base_delay
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"SatClient({self.http.base_url!r})"

    def upload(self, key: str, metadata: dict, filename: str, content: bytes) -> Receipt:
        body = {
            **metadata,
            "arquivo": {
                "nome": filename,
                "sha256": hashlib.sha256(content).hexdigest(),
                "tamanho": len(content),
                "conteudo_base64": base64.b64encode(content).decode("ascii"),
            },
        }
        response = call_with_retries(
            lambda: self.http.post("/faturas", json=body, headers={"Idempotency-Key": key}),
            attempts=self.request_attempts,
            base_delay=self.retry_base_delay,
            sleep=self.sleep,
        )
        try:
            answer = response.json()
        except ValueError as exc:
            raise SatProtocolError(
                f"SAT: invalid JSON at {response.url}", response.status_code, response.url
            ) from exc
        protocol = answer.get("protocolo") if isinstance(answer, dict) else None
        if not protocol:
            raise SatProtocolError(f"SAT: no protocolo in the answer at {response.url}", response.status_code)
        return Receipt(protocol=str(protocol), duplicate=response.status_code == 200)
