"""Client of the RPA API that downloads invoices from the operators' portals (contract: docs/rpa-api.md).

Pure (no Dagster): `RpaClient.run_job` starts one job, follows it with backoff, streams its log lines to a
callback as they appear (each line once, by offset), then fetches the invoice file. Every idempotent HTTP call
is retried in-process on retryable errors (5xx, timeouts, connection errors, honouring `Retry-After`); 401/403
raise `TokenRejected` at once. `POST /executar` is repeated only when it cannot have reached the RPA (see
`routines.http`): the contract has no way to find a job by process, so an answer lost after sending raises
`OutcomeUnknown` instead of starting a second job. A job that fails or does not finish within `job_timeout`
gives a failed `JobResult` with the last log lines.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from routines.http import HttpClient, HttpError, RetryableHttpError, call_with_retries

RUNNING_STATUSES = frozenset({"PENDENTE", "EXECUTANDO"})
SUCCESS = "CONCLUIDO"
FAILED = "FALHOU"
LAST_LINES = 20


@dataclass
class JobResult:
    job_id: str
    ok: bool
    status: str  # CONCLUIDO, FALHOU or TIMEOUT
    error: str | None = None
    filename: str | None = None
    content: bytes | None = None
    declared_sha256: str | None = None
    last_lines: list[str] = field(default_factory=list)
    line_count: int = 0
    elapsed: float = 0.0


class RpaProtocolError(HttpError):
    """The RPA answered something the contract does not allow (fatal)."""


class RpaClient:
    def __init__(
        self,
        http: HttpClient,
        poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
        poll_backoff: float = 1.5,
        job_timeout: float = 3600.0,
        request_attempts: int = 4,
        retry_base_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.http = http
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.poll_backoff = poll_backoff
        self.job_timeout = job_timeout
        self.request_attempts = request_attempts
        self.retry_base_delay = retry_base_delay
        self.sleep = sleep
        self.clock = clock

    def __repr__(self) -> str:
        return f"RpaClient({self.http.base_url!r})"

    def _call(self, fn: Callable[[], Any]) -> Any:
        return call_with_retries(
            fn, attempts=self.request_attempts, base_delay=self.retry_base_delay, sleep=self.sleep
        )

    def _json(self, response) -> dict:
        try:
            body = response.json()
        except ValueError as exc:
            raise RpaProtocolError(
                f"RPA: invalid JSON at {response.url}", response.status_code, response.url
            ) from exc
        if not isinstance(body, dict):
            raise RpaProtocolError(
                f"RPA: expected a JSON object at {response.url}", response.status_code, response.url
            )
        return body

    # -- the four endpoints -------------------------------------------------------------------------------------
    def start_job(self, operator_endpoint: str, payload: dict) -> str:
        path = f"/executar/{quote(operator_endpoint, safe='')}"
        body = self._json(self._call(lambda: self.http.post(path, json=payload)))
        job_id = body.get("job_id")
        if not job_id:
            raise RpaProtocolError(f"RPA: no job_id in the answer of POST {path}")
        return str(job_id)

    def job_status(self, job_id: str) -> dict:
        body = self._json(self._call(lambda: self.http.get(f"/jobs/{quote(job_id, safe='')}")))
        if "status" not in body:
            raise RpaProtocolError(f"RPA: no status for job {job_id}")
        return body

    def job_logs(self, job_id: str, offset: int) -> tuple[list[str], int]:
        """Lines from `offset` on and the offset of the next line."""
        body = self._json(
            self._call(
                lambda: self.http.get(f"/jobs/{quote(job_id, safe='')}/logs", params={"desde": offset})
            )
        )
        lines = [
            str(item.get("mensagem", "")) if isinstance(item, dict) else str(item)
            for item in body.get("linhas", [])
        ]
        next_offset = int(body.get("proximo", offset + len(lines)))
        return lines, next_offset

    def job_file(self, job_id: str) -> tuple[str, bytes]:
        response = self._call(lambda: self.http.get(f"/jobs/{quote(job_id, safe='')}/arquivo"))
        filename = _filename_from(response.headers.get("Content-Disposition", "")) or f"{job_id}.pdf"
        return filename, response.content

    def job_state(self, job_id: str) -> str | None:
        """The job's status now (one request, no retries), None when the RPA does not know it (404)."""
        try:
            response = self.http.get(f"/jobs/{quote(job_id, safe='')}")
        except RetryableHttpError as exc:
            if exc.status == 404:
                return None
            raise
        return str(self._json(response).get("status", "")).upper()

    def resumable(self, job_id: str) -> str | None:
        """`job_id` if the RPA still runs it or has its file (a run killed while following it), else None."""
        state = self.job_state(job_id)
        return job_id if state in RUNNING_STATUSES or state == SUCCESS else None

    def job_has_ended(self, job_id: str) -> bool:
        """Whether the RPA says the job is over (or forgot it); False while it runs or when the RPA cannot say."""
        try:
            state = self.job_state(job_id)
        except HttpError:
            return False
        return state not in RUNNING_STATUSES

    # -- one whole job ------------------------------------------------------------------------------------------
    def run_job(
        self,
        operator_endpoint: str,
        payload: dict,
        on_log: Callable[[str], None] = lambda line: None,
        on_started: Callable[[str], None] = lambda job_id: None,
        on_poll: Callable[[], None] = lambda: None,
        resume_job_id: str | None = None,
        before_start: Callable[[], None] = lambda: None,
        on_resumed: Callable[[str], None] = lambda job_id: None,
        on_ended: Callable[[str], None] = lambda status: None,
        job_timeout: float | None = None,
        pause: Callable[[float], object] | None = None,
    ) -> JobResult:
        """Start a job (or follow `resume_job_id` if the RPA still has it running or done), stream its logs,
        fetch its file.

        `before_start()` runs right before `POST /executar` (it may raise to start nothing), `on_resumed(job_id)`
        when `resume_job_id` is followed instead; `on_ended(status)`
        as soon as the RPA reports the job over (before the file is fetched). The POST is never repeated once it
        may have reached the RPA (`OutcomeUnknown` propagates). While the job runs, polls that still fail after
        the in-process retries (5xx, timeouts) do not end the following: it goes on until `job_timeout` (default
        the client's), measured from now; then the result is TIMEOUT, the job possibly still running.
        `pause(seconds)` waits between polls (default the client's sleep); `on_poll()` runs before each poll and
        may raise to stop following."""
        timeout = self.job_timeout if job_timeout is None else job_timeout
        pause = pause or self.sleep
        started = self.clock()
        job_id = self.resumable(resume_job_id) if resume_job_id else None
        if job_id is None:
            before_start()
            job_id = self.start_job(operator_endpoint, payload)
            on_started(job_id)
        else:
            on_resumed(job_id)
        offset = 0
        last = deque(maxlen=LAST_LINES)
        delay = self.poll_interval
        unanswered: HttpError | None = None

        def drain(to_the_end: bool = False) -> None:
            """The lines from `offset` on: one page while the job runs (the next poll asks for more), every page
            once it ended."""
            nonlocal offset
            while True:
                lines, next_offset = self.job_logs(job_id, offset)
                for line in lines:
                    last.append(line)
                    on_log(line)
                if next_offset <= offset or not lines:
                    offset = max(offset, next_offset)
                    return
                offset = next_offset
                if not to_the_end:
                    return

        def result(ok: bool, state: str, **values) -> JobResult:
            return JobResult(
                job_id,
                ok,
                state,
                last_lines=list(last),
                line_count=offset,
                elapsed=self.clock() - started,
                **values,
            )

        while True:
            on_poll()
            try:
                status = self.job_status(job_id)
                drain()
            except RetryableHttpError as exc:  # the RPA does not answer now; the job goes on there
                unanswered, state = exc, "SEM RESPOSTA"
            else:
                unanswered, state = None, str(status["status"]).upper()
            if unanswered is None and state not in RUNNING_STATUSES:
                on_ended(state)
                drain(to_the_end=True)
                if state == SUCCESS:
                    filename, content = self.job_file(job_id)
                    arquivo = status.get("arquivo") or {}
                    return result(
                        True,
                        SUCCESS,
                        filename=filename,
                        content=content,
                        declared_sha256=arquivo.get("sha256"),
                    )
                error = status.get("erro") or f"job {job_id} terminou com status {state}"
                return result(False, FAILED, error=str(error))
            elapsed = self.clock() - started
            if elapsed >= timeout:
                detail = f"último status {state}" + (f": {unanswered}" if unanswered else "")
                return result(
                    False, "TIMEOUT", error=f"job {job_id} não terminou em {timeout:g} s ({detail})"
                )
            pause(min(delay, max(0.01, timeout - elapsed)))
            delay = min(self.max_poll_interval, delay * self.poll_backoff)


def _filename_from(disposition: str) -> str | None:
    for part in disposition.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "filename" and value:
            value = value.strip().strip('"')
            value = value.replace("/", "_").replace("\\", "_")
            return value or None
    return None
