"""What the HTTP helper may repeat (against a real loopback server): a request that is not idempotent only when
it cannot have been carried out; `Retry-After` honoured by the retry loop."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from routines.http import (
    HttpClient,
    OutcomeUnknown,
    RetryableHttpError,
    call_with_retries,
    retry_after_seconds,
)
from routines.retry import retry_call
from routines_tests.helpers import QuietHandler, serve


class Handler(QuietHandler):
    """POST/GET /status/NNN[?retry-after=V] answers NNN; /slow answers after 1 s; /throttled answers 503 with
    Retry-After: 2 once, then 200. Every request is counted."""

    def handle_any(self):
        self.server.calls += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path, _, query = self.path.partition("?")
        if path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            self.send_response(status)
            if query.startswith("retry-after="):
                self.send_header("Retry-After", query.split("=", 1)[1].replace("%20", " "))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"no")
        elif path == "/slow":
            time.sleep(1.0)
            self.send_body(200, b"late")
        elif path == "/throttled":
            if self.server.calls == 1:
                self.send_response(503)
                self.send_header("Retry-After", "2")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self.send_body(200, b"ok")
        else:
            self.send_body(404, b"not found")

    do_GET = do_POST = handle_any  # noqa: N815


@pytest.fixture
def server():
    with serve(Handler, calls=0) as (base_url, srv):
        yield base_url, srv


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_post_answered_with_a_server_error_may_have_been_carried_out(server, status):
    client = HttpClient("RPA", server[0])
    with pytest.raises(OutcomeUnknown, match=f"HTTP {status} .*not repeated") as caught:
        call_with_retries(lambda: client.post(f"/status/{status}", json={}), sleep=lambda s: None)
    assert not caught.value.retryable and caught.value.status == status
    assert server[1].calls == 1


def test_a_post_that_times_out_after_sending_is_not_repeated(server):
    client = HttpClient("RPA", server[0], timeout=(2, 0.2))
    with pytest.raises(OutcomeUnknown, match="timed out after the request was sent"):
        call_with_retries(lambda: client.post("/slow", json={}), sleep=lambda s: None)
    assert server[1].calls == 1
    with pytest.raises(RetryableHttpError, match="timed out"):  # a GET may be repeated
        client.get("/slow")


def test_a_post_that_never_reached_the_server_is_retried():
    delays: list[float] = []
    client = HttpClient("RPA", "http://127.0.0.1:9")  # nothing listens: connection refused before sending
    with pytest.raises(RetryableHttpError, match="cannot connect"):
        call_with_retries(lambda: client.post("/executar/vivo", json={}), attempts=3, sleep=delays.append)
    assert len(delays) == 2


@pytest.mark.parametrize("status", [408, 425, 429])
def test_a_post_the_server_did_not_act_on_is_retryable(server, status):
    with pytest.raises(RetryableHttpError):
        HttpClient("RPA", server[0]).post(f"/status/{status}", json={})


def test_idempotency_key_or_the_caller_make_a_post_repeatable(server):
    client = HttpClient("SAT", server[0])
    with pytest.raises(RetryableHttpError):
        client.post("/status/503", json={}, headers={"Idempotency-Key": "k-1"})
    with pytest.raises(RetryableHttpError):
        client.post("/status/503", json={}, idempotent=True)
    with pytest.raises(OutcomeUnknown):  # and the caller may say a GET is not
        client.get("/status/503", idempotent=False)


def test_retry_after_is_read_as_seconds_or_a_date(server):
    now = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), lambda: now) == 90
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=5), usegmt=True), lambda: now) == 0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    with pytest.raises(RetryableHttpError) as caught:
        HttpClient("B3", server[0]).get("/status/429?retry-after=7")
    assert caught.value.retry_after == 7
    with pytest.raises(RetryableHttpError) as caught:
        HttpClient("B3", server[0]).get("/status/500?retry-after=7")  # only 429 and 503 carry it
    assert caught.value.retry_after is None


def test_the_retry_loop_waits_at_least_what_the_server_asks(server):
    client = HttpClient("CVM", server[0])
    delays: list[float] = []
    response = call_with_retries(lambda: client.get("/throttled"), base_delay=0.01, sleep=delays.append)
    assert response.status_code == 200 and delays == [2.0]


def test_a_wait_longer_than_the_loop_allows_is_left_to_the_caller():
    calls, delays = [], []

    def throttled():
        calls.append(1)
        raise RetryableHttpError("throttled", 429, "", retry_after=600)

    with pytest.raises(RetryableHttpError):
        retry_call(throttled, lambda exc: True, attempts=4, max_delay=30, sleep=delays.append)
    assert len(calls) == 1 and delays == []  # not retried sooner than asked
