"""Fake RPA and SAT servers on loopback (real HTTP, the contracts of docs/rpa-api.md and docs/sat-api.md).

Both are configured through attributes of the server object (`serve(FakeRpaHandler, **fake_rpa_state(...))`):
latency (per job if wanted), queued failures (5xx, with `Retry-After`), failures chosen per request, 401s, job
failures, jobs that never finish, answers lost after a job was started, log output. The RPA fake records the
maximum number of jobs in flight it saw and the jobs started per process; the SAT fake honours idempotency keys
and records every stored upload.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

from routines_tests.helpers import QuietHandler, serve

TOKEN = "segredo-do-rpa-123"
SAT_TOKEN = "segredo-do-sat-456"


@dataclass
class FakeJob:
    job_id: str
    endpoint: str
    payload: dict
    started: float
    latency: float
    outcome: str  # ok | fail | hang
    lines: list[str]
    content: bytes

    def state(self, now: float) -> str:
        elapsed = now - self.started
        if self.outcome == "hang" or elapsed < self.latency:
            return "PENDENTE" if elapsed < self.latency * 0.1 else "EXECUTANDO"
        return "CONCLUIDO" if self.outcome == "ok" else "FALHOU"

    def visible_lines(self, now: float) -> list[str]:
        if self.state(now) in ("CONCLUIDO", "FALHOU"):
            return self.lines
        elapsed = now - self.started
        count = len(self.lines) - 1  # the last line appears with the end of the job
        if self.outcome == "hang":
            return self.lines[: min(count, 1 + int(elapsed / 0.05))]
        return self.lines[: int(count * min(1.0, elapsed / self.latency))]


@dataclass
class RpaState:
    token: str = TOKEN
    latency: float = 0.3
    log_lines: int = 5
    # statuses returned (and consumed) before any request is handled, e.g. [503, 502] or [(429, "1")] with a
    # Retry-After value
    failures: list[int | tuple[int, str]] = field(default_factory=list)
    # (method, path) -> a status to answer instead of handling the request (e.g. 503s while polling one job)
    fail_request: Callable[[str, str], int | None] = lambda method, path: None
    # for the next POSTs: start the job, then lose the answer: a status (e.g. 502) or "timeout" (answer only
    # after `lost_answer_delay` seconds, later than the client waits)
    lost_answers: list[int | str] = field(default_factory=list)
    lost_answer_delay: float = 2.0
    # (endpoint, payload) -> seconds this job runs (default: `latency`)
    latency_for: Callable[[str, dict], float | None] = lambda endpoint, payload: None
    unauthorized: bool = False
    # (endpoint, payload) -> "ok" | "fail" | "hang"
    behaviour: Callable[[str, dict], str] = lambda endpoint, payload: "ok"
    known_endpoints: set[str] | None = None
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    max_in_flight: int = 0
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, authorization
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def in_flight(self, now: float) -> int:
        return sum(1 for job in self.jobs.values() if job.state(now) in ("PENDENTE", "EXECUTANDO"))

    def jobs_per_process(self) -> dict[int, int]:
        """processo_id -> how many jobs were started for it."""
        counts: dict[int, int] = {}
        for job in list(self.jobs.values()):
            process_id = job.payload.get("processo_id")
            counts[process_id] = counts.get(process_id, 0) + 1
        return counts


def invoice_pdf(endpoint: str, payload: dict) -> bytes:
    client = payload.get("cliente", {})
    return (
        b"%PDF-1.4\n% fatura fake\n"
        + f"operadora={endpoint};competencia={payload.get('competencia')};cliente={client.get('id')}\n".encode()
        + b"%%EOF\n"
    )


class FakeRpaHandler(QuietHandler):
    # one buffered write per response and no Nagle delay: no 40 ms delayed-ACK stall per request on loopback
    wbufsize = -1
    disable_nagle_algorithm = True

    @property
    def state(self) -> RpaState:
        return self.server.state

    def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _guard(self) -> bool:
        state = self.state
        with state.lock:
            state.requests.append((self.command, self.path, self.headers.get("Authorization", "")))
            failure = state.failures.pop(0) if state.failures else None
        if failure is None:
            failure = state.fail_request(self.command, urlparse(self.path).path)
        length = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(length) if length else b""
        if failure:
            status, retry_after = failure if isinstance(failure, tuple) else (failure, None)
            self._json(
                status, {"erro": "falha simulada"}, {"Retry-After": retry_after} if retry_after else {}
            )
            return False
        if state.unauthorized or self.headers.get("Authorization") != f"Bearer {state.token}":
            self._json(401, {"erro": "token inválido"})
            return False
        return True

    def do_POST(self) -> None:  # noqa: N802
        if not self._guard():
            return
        parts = urlparse(self.path).path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "executar":
            return self._json(404, {"erro": "rota desconhecida"})
        endpoint = parts[1]
        state = self.state
        if state.known_endpoints is not None and endpoint not in state.known_endpoints:
            return self._json(422, {"erro": f"operadora desconhecida: {endpoint}"})
        try:
            payload = json.loads(self._body or b"{}")
        except ValueError:
            return self._json(400, {"erro": "JSON inválido"})
        outcome = state.behaviour(endpoint, payload)
        latency = state.latency_for(endpoint, payload)
        with state.lock:
            now = time.monotonic()
            job_id = f"job-{next(state.counter):05d}"
            lines = [f"{job_id}: acessando portal {endpoint}"] + [
                f"{job_id}: passo {i} de {state.log_lines}" for i in range(1, state.log_lines + 1)
            ]
            lines.append(
                f"{job_id}: " + ("download concluído" if outcome == "ok" else "erro: portal indisponível")
            )
            state.jobs[job_id] = FakeJob(
                job_id,
                endpoint,
                payload,
                now,
                state.latency if latency is None else latency,
                outcome,
                lines,
                invoice_pdf(endpoint, payload),
            )
            state.max_in_flight = max(state.max_in_flight, state.in_flight(now))
            lost = state.lost_answers.pop(0) if state.lost_answers else None
        if lost == "timeout":  # the client stops waiting first; the job runs on
            time.sleep(state.lost_answer_delay)
            self.close_connection = True
            return None
        if lost:
            return self._json(int(lost), {"erro": "falha após iniciar o job"})
        self._json(202, {"job_id": job_id, "status": "PENDENTE"})

    def do_GET(self) -> None:  # noqa: N802
        if not self._guard():
            return
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "jobs" or parts[1] not in self.state.jobs:
            return self._json(404, {"erro": "job desconhecido"})
        job = self.state.jobs[parts[1]]
        now = time.monotonic()
        state = job.state(now)
        if len(parts) == 2:
            body = {"job_id": job.job_id, "status": state, "erro": None, "arquivo": None}
            if state == "FALHOU":
                body["erro"] = "portal da operadora indisponível"
            if state == "CONCLUIDO":
                body["arquivo"] = {
                    "nome": "fatura.pdf",
                    "tamanho": len(job.content),
                    "sha256": hashlib.sha256(job.content).hexdigest(),
                }
            return self._json(200, body)
        if parts[2] == "logs":
            since = int(parse_qs(url.query).get("desde", ["0"])[0])
            visible = job.visible_lines(now)
            page = visible[since : since + 50]
            return self._json(
                200,
                {
                    "job_id": job.job_id,
                    "linhas": [{"n": since + i, "mensagem": line} for i, line in enumerate(page)],
                    "proximo": since + len(page),
                },
            )
        if parts[2] == "arquivo":
            if state != "CONCLUIDO":
                return self._json(409, {"erro": f"job {state}"})
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Disposition", 'attachment; filename="fatura.pdf"')
            self.send_header("Content-Length", str(len(job.content)))
            self.end_headers()
            self.wfile.write(job.content)
            return None
        return self._json(404, {"erro": "rota desconhecida"})


@dataclass
class SatState:
    token: str = SAT_TOKEN
    latency: float = 0.0
    failures: list[int] = field(default_factory=list)
    # store the upload, then answer with this status (a response lost after the SAT stored the invoice)
    fail_after_store: list[int] = field(default_factory=list)
    unauthorized: bool = False
    refuse: Callable[[dict], str | None] = lambda body: None  # -> 422 message
    uploads: list[dict] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # idempotency key -> protocolo
    requests: list[tuple[str, str, str, str]] = field(default_factory=list)  # method, path, auth, key
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeSatHandler(QuietHandler):
    wbufsize = -1
    disable_nagle_algorithm = True

    def _json(self, status: int, body: dict) -> None:
        self.send_body(
            status, json.dumps(body, ensure_ascii=False).encode(), "application/json; charset=utf-8"
        )

    def do_POST(self) -> None:  # noqa: N802
        state: SatState = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        key = self.headers.get("Idempotency-Key", "")
        with state.lock:
            state.requests.append((self.command, self.path, self.headers.get("Authorization", ""), key))
            failure = state.failures.pop(0) if state.failures else None
        if state.latency:
            time.sleep(state.latency)
        if failure:
            return self._json(failure, {"erro": "falha simulada"})
        if state.unauthorized or self.headers.get("Authorization") != f"Bearer {state.token}":
            return self._json(401, {"erro": "token inválido"})
        if urlparse(self.path).path != "/faturas":
            return self._json(404, {"erro": "rota desconhecida"})
        if not key:
            return self._json(400, {"erro": "cabeçalho Idempotency-Key obrigatório"})
        try:
            body = json.loads(raw)
            content = base64.b64decode(body["arquivo"]["conteudo_base64"], validate=True)
        except (ValueError, KeyError, TypeError):
            return self._json(400, {"erro": "corpo inválido"})
        if hashlib.sha256(content).hexdigest() != body["arquivo"].get("sha256"):
            return self._json(422, {"erro": "sha256 não confere"})
        refusal = state.refuse(body)
        if refusal:
            return self._json(422, {"erro": refusal})
        with state.lock:
            if key in state.keys:
                return self._json(200, {"protocolo": state.keys[key], "duplicado": True})
            protocol = f"SAT-{len(state.keys) + 1:06d}"
            state.keys[key] = protocol
            state.uploads.append({"key": key, "protocolo": protocol, "body": body, "content": content})
            late_failure = state.fail_after_store.pop(0) if state.fail_after_store else None
        if late_failure:
            return self._json(late_failure, {"erro": "falha após gravar"})
        return self._json(201, {"protocolo": protocol, "duplicado": False})


@contextmanager
def fake_rpa(**attributes):
    """(base URL, RpaState) of a running fake RPA."""
    state = RpaState(**attributes)
    with serve(FakeRpaHandler, state=state) as (url, _server):
        yield url, state


@contextmanager
def fake_sat(**attributes):
    state = SatState(**attributes)
    with serve(FakeSatHandler, state=state) as (url, _server):
        yield url, state
