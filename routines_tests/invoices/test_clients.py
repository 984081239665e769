"""The pure RPA and SAT clients against the fake servers (real HTTP on loopback)."""

from __future__ import annotations

import hashlib

import pytest

from routines.http import HttpClient, OutcomeUnknown, TokenRejected
from routines.invoices.rpa import RpaClient
from routines.invoices.sat import SatClient, idempotency_key
from routines_tests.invoices.fakes import SAT_TOKEN, TOKEN, fake_rpa, fake_sat, invoice_pdf

PAYLOAD = {"competencia": "2025-06", "cliente": {"id": 3, "nome": "Cliente", "cnpj": None}, "processo_id": 9}


def rpa_client(url, token=TOKEN, **kwargs) -> RpaClient:
    options = {"poll_interval": 0.02, "max_poll_interval": 0.1, "job_timeout": 5, "retry_base_delay": 0.01}
    options.update(kwargs)
    return RpaClient(HttpClient("RPA", url, token, timeout=(2, 5)), **options)


def test_run_job_streams_each_log_line_once_and_fetches_the_file():
    with fake_rpa(latency=0.3, log_lines=8) as (url, state):
        lines: list[str] = []
        started: list[str] = []
        result = rpa_client(url).run_job("vivo", PAYLOAD, on_log=lines.append, on_started=started.append)
    job = state.jobs[result.job_id]
    assert result.ok and result.status == "CONCLUIDO"
    assert started == [result.job_id]
    assert lines == job.lines  # every line, in order, none twice
    assert result.content == invoice_pdf("vivo", PAYLOAD)
    assert result.declared_sha256 == hashlib.sha256(result.content).hexdigest()
    assert result.filename == "fatura.pdf"
    # streamed incrementally: several log requests with growing offsets while the job ran
    offsets = [path for method, path, _ in state.requests if "/logs" in path]
    assert len({path for path in offsets}) > 2
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in state.requests)
    assert job.payload == PAYLOAD and job.endpoint == "vivo"


def test_failed_job_keeps_the_error_and_last_lines():
    with fake_rpa(latency=0.1, log_lines=30, behaviour=lambda endpoint, payload: "fail") as (url, _state):
        lines: list[str] = []
        result = rpa_client(url).run_job("claro", PAYLOAD, on_log=lines.append)
    assert not result.ok and result.status == "FALHOU"
    assert result.error == "portal da operadora indisponível"
    assert len(result.last_lines) == 20 and result.last_lines[-1].endswith("erro: portal indisponível")
    assert len(lines) == 32 and len(set(lines)) == 32


def test_job_that_never_finishes_times_out_with_its_logs():
    with fake_rpa(latency=0.1, behaviour=lambda endpoint, payload: "hang") as (url, _state):
        result = rpa_client(url, job_timeout=0.5).run_job("tim", PAYLOAD)
    assert not result.ok and result.status == "TIMEOUT"
    assert "não terminou em 0.5 s" in result.error
    assert result.last_lines and result.last_lines[0].endswith("acessando portal tim")
    assert 0.5 <= result.elapsed < 2


def test_server_errors_while_following_are_retried_with_backoff():
    delays: list[float] = []
    failures = {"left": 3}

    def fail_request(method, path):
        if method == "GET" and failures["left"]:
            failures["left"] -= 1
            return [500, 502, 503][failures["left"]]
        return None

    with fake_rpa(latency=0.05, fail_request=fail_request) as (url, state):
        result = rpa_client(url, sleep=lambda s: delays.append(s)).run_job("vivo", PAYLOAD)
    assert result.ok and len(state.jobs) == 1
    assert [method for method, *_ in state.requests[:5]] == ["POST"] + ["GET"] * 4  # 3 failed polls, then ok
    retry_delays = delays[:3]
    assert retry_delays[0] < retry_delays[1] < retry_delays[2]  # exponential backoff


def test_a_throttled_start_is_retried_after_the_time_the_rpa_asks():
    delays: list[float] = []
    polls = {"failed": 0}

    def fail_first_poll(method, path):
        if method == "GET" and not polls["failed"]:
            polls["failed"] += 1
            return (503, "1")
        return None

    with fake_rpa(latency=0.05, failures=[(429, "3")], fail_request=fail_first_poll) as (url, state):
        client = rpa_client(url, sleep=lambda s: delays.append(s), retry_base_delay=0.01, request_attempts=4)
        assert client.run_job("vivo", PAYLOAD).ok  # 429: the RPA did not act on it, so the POST is repeated
    assert [method for method, *_ in state.requests[:3]] == ["POST", "POST", "GET"]
    assert delays[0] >= 3 and delays[1] >= 1  # each Retry-After honoured, not the 10 ms backoff
    assert len(state.jobs) == 1


def test_a_start_answered_with_a_server_error_is_not_repeated():
    with fake_rpa(failures=[503] * 10) as (url, state):
        with pytest.raises(OutcomeUnknown, match="HTTP 503 .* not repeated"):
            rpa_client(url, request_attempts=3).run_job("vivo", PAYLOAD)
    assert len(state.requests) == 1


def test_polls_that_keep_failing_do_not_end_the_following_before_the_job_timeout():
    with fake_rpa(latency=0.05, fail_request=lambda method, path: 503 if method == "GET" else None) as (
        url,
        state,
    ):
        result = rpa_client(url, request_attempts=2, job_timeout=0.5).run_job("vivo", PAYLOAD)
    assert result.status == "TIMEOUT" and "HTTP 503" in result.error
    assert len(state.jobs) == 1 and sum(method == "GET" for method, *_ in state.requests) > 2


def test_token_rejected_fails_at_once_without_showing_the_token():
    with fake_rpa() as (url, state):
        with pytest.raises(TokenRejected) as info:
            rpa_client(url, token="wrong-token-xyz").run_job("vivo", PAYLOAD)
    assert "token rejected" in str(info.value)
    assert "wrong-token-xyz" not in str(info.value)
    assert len(state.requests) == 1  # no retries


def test_sat_upload_is_idempotent_by_key():
    content = b"%PDF fatura"
    key = idempotency_key(12, hashlib.sha256(content).hexdigest())
    with fake_sat() as (url, state):
        client = SatClient(HttpClient("SAT", url, SAT_TOKEN), retry_base_delay=0.01)
        first = client.upload(key, {"processo_id": 12}, "f.pdf", content)
        second = client.upload(key, {"processo_id": 12}, "f.pdf", content)
    assert first.protocol == second.protocol and not first.duplicate and second.duplicate
    assert len(state.uploads) == 1 and state.uploads[0]["content"] == content
    assert [request[3] for request in state.requests] == [key, key]


def test_sat_retry_after_a_lost_response_does_not_upload_twice():
    with fake_sat(fail_after_store=[502]) as (url, state):
        client = SatClient(HttpClient("SAT", url, SAT_TOKEN), retry_base_delay=0.01)
        receipt = client.upload("k-1", {}, "f.pdf", b"abc")
    assert receipt.duplicate and receipt.protocol == "SAT-000001"
    assert len(state.requests) == 2 and len(state.uploads) == 1


def test_sat_token_rejected():
    with fake_sat() as (url, state):
        client = SatClient(HttpClient("SAT", url, "bad"), retry_base_delay=0.01)
        with pytest.raises(TokenRejected, match="SAT: token rejected"):
            client.upload("k", {}, "f.pdf", b"abc")
    assert len(state.requests) == 1 and not state.uploads


def test_resume_follows_a_running_or_done_job_and_restarts_a_failed_or_unknown_one():
    with fake_rpa(latency=0.2, log_lines=2) as (url, state):
        client = rpa_client(url)
        first = client.start_job("vivo", PAYLOAD)
        resumed = client.run_job("vivo", PAYLOAD, resume_job_id=first)
        assert resumed.ok and resumed.job_id == first and len(state.jobs) == 1
        again = client.run_job("vivo", PAYLOAD, resume_job_id=first)  # done: its file is fetched again
        assert again.ok and again.job_id == first and len(state.jobs) == 1
        unknown = client.run_job("vivo", PAYLOAD, resume_job_id="job-99999")
        assert unknown.ok and unknown.job_id != "job-99999" and len(state.jobs) == 2
        state.behaviour = lambda endpoint, payload: "fail"
        failed = client.run_job("vivo", PAYLOAD)
        state.behaviour = lambda endpoint, payload: "ok"
        restarted = client.run_job("vivo", PAYLOAD, resume_job_id=failed.job_id)
        assert restarted.ok and restarted.job_id != failed.job_id and len(state.jobs) == 4
