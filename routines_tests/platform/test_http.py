"""The HTTP helper against a real loopback server: classification, timeouts, token kept out of messages."""

from __future__ import annotations

import time

import pytest

from routines.http import HttpClient, HttpError, RetryableHttpError, TokenRejected, call_with_retries
from routines_tests.helpers import QuietHandler, serve

TOKEN = "s3cr3t-token-value"


class StatusHandler(QuietHandler):
    """GET /status/NNN answers NNN; /slow sleeps; /flaky fails twice then answers 200; /echo-auth."""

    def do_GET(self):  # noqa: N802
        if self.path.startswith("/status/"):
            status = int(self.path.rsplit("/", 1)[1])
            self.send_body(status, f"<html>error {status}</html>".encode(), "text/html")
        elif self.path == "/slow":
            time.sleep(1.0)
            self.send_body(200, b"late")
        elif self.path == "/flaky":
            self.server.calls += 1
            self.send_body(503 if self.server.calls <= 2 else 200, b"ok")
        elif self.path == "/echo-auth":
            self.send_body(200, self.headers.get("Authorization", "").encode())
        else:
            self.send_body(404, b"not found")


@pytest.fixture
def server():
    with serve(StatusHandler, calls=0) as (base_url, srv):
        yield base_url, srv


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, TokenRejected),
        (403, TokenRejected),
        (400, HttpError),
        (404, RetryableHttpError),
        (429, RetryableHttpError),
        (500, RetryableHttpError),
        (503, RetryableHttpError),
    ],
)
def test_statuses_are_classified(server, status, error):
    client = HttpClient("B3", server[0], token=TOKEN)
    with pytest.raises(error) as caught:
        client.get(f"/status/{status}")
    assert type(caught.value) is error
    assert caught.value.status == status
    assert TOKEN not in str(caught.value)
    assert caught.value.retryable is (error is RetryableHttpError)


def test_token_rejected_message_says_so(server):
    with pytest.raises(TokenRejected, match="token rejected"):
        HttpClient("RPA", server[0], token=TOKEN).get("/status/401")


def test_token_is_sent_as_bearer_header_and_never_shown(server):
    client = HttpClient("RPA", server[0], token=TOKEN)
    assert client.get("/echo-auth").text == f"Bearer {TOKEN}"
    assert TOKEN not in repr(client)


def test_timeouts_and_refused_connections_are_retryable(server):
    with pytest.raises(RetryableHttpError, match="timed out"):
        HttpClient("B3", server[0], timeout=(2, 0.2)).get("/slow")
    with pytest.raises(RetryableHttpError, match="cannot connect"):
        HttpClient("B3", "http://127.0.0.1:9").get("/")


def test_call_with_retries_backs_off_then_succeeds(server):
    client = HttpClient("CVM", server[0])
    delays: list[float] = []
    response = call_with_retries(lambda: client.get("/flaky"), attempts=4, base_delay=1, sleep=delays.append)
    assert response.status_code == 200
    assert server[1].calls == 3
    assert len(delays) == 2 and 0.8 <= delays[0] <= 1.2 and 1.6 <= delays[1] <= 2.4


def test_call_with_retries_does_not_retry_fatal_errors(server):
    client = HttpClient("RPA", server[0], token=TOKEN)
    delays: list[float] = []
    with pytest.raises(TokenRejected):
        call_with_retries(lambda: client.get("/status/403"), sleep=delays.append)
    assert delays == []
