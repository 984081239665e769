"""HTTP helper on `requests`: timeouts always set, errors classified for retries, tokens never shown.

- 401/403 -> `TokenRejected` (fatal: retrying cannot help);
- 404, 408, 425, 429, 5xx, timeouts and connection errors -> `RetryableHttpError` (with the server's
  `Retry-After`, in seconds, when a 429 or 503 gives one: `retry_call` never tries again sooner);
- any other 4xx -> `HttpError` (fatal);
- a request that is not idempotent (POST without an `Idempotency-Key` header, unless the caller says otherwise)
  is repeatable only when it cannot have reached the server (connection refused, connect timeout) or the server
  said it did not act on it (408, 425, 429). A read timeout, a connection dropped after sending or a 5xx raise
  `OutcomeUnknown` (fatal): repeating the request could do the thing twice.

Dagster glue (`routines.lib.resources`) turns fatal errors into `dg.Failure(allow_retries=False)` so that the
assets' `RetryPolicy` retries only what may succeed later. The bearer token goes only into the request header;
messages name the service and the URL path, never the token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from routines.retry import retry_call

DEFAULT_TIMEOUT = (10.0, 120.0)  # connect, read (seconds)
RETRYABLE_STATUS = frozenset({404, 408, 425, 429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

T = TypeVar("T")


class HttpError(Exception):
    """A fatal HTTP failure: the request itself is wrong; retrying will not help."""

    retryable = False

    def __init__(self, message: str, status: int | None = None, url: str = ""):
        super().__init__(message)
        self.status = status
        self.url = url


class TokenRejected(HttpError):
    """401/403: the credentials were refused."""


class RetryableHttpError(HttpError):
    """A failure that may pass later: not published yet (404), throttled (429), server errors, timeouts.
    `retry_after`: the seconds the server asked to wait (`Retry-After`), if it did."""

    retryable = True

    def __init__(
        self, message: str, status: int | None = None, url: str = "", retry_after: float | None = None
    ):
        super().__init__(message, status, url)
        self.retry_after = retry_after


class OutcomeUnknown(HttpError):
    """A request that is not idempotent may have been carried out (no answer after it was sent, or a 5xx):
    never repeated automatically; the caller finds out what happened or reports it."""


def retry_after_seconds(
    value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now()).total_seconds())


def _not_sent(exc: requests.RequestException) -> bool:
    """The connection was never made (refused, unresolvable, connect timeout): the server saw nothing."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, ConnectTimeoutError)


def _body_excerpt(response: requests.Response, limit: int = 200) -> str:
    text = (response.text or "").strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "")


def classify_response(service: str, response: requests.Response) -> None:
    """Raise the classified error for a non-2xx response; return quietly on success."""
    status = response.status_code
    if status < 400:
        return
    url = response.url
    if status in (401, 403):
        raise TokenRejected(
            f"{service}: token rejected (HTTP {status}) at {url}; check the configured token", status, url
        )
    message = f"{service}: HTTP {status} at {url}: {_body_excerpt(response)}"
    if status in RETRYABLE_STATUS or status >= 500:
        wait = retry_after_seconds(response.headers.get("Retry-After")) if status in (429, 503) else None
        raise RetryableHttpError(message, status, url, retry_after=wait)
    raise HttpError(message, status, url)


class HttpClient:
    """A `requests.Session` bound to one service: base URL, optional bearer token, timeouts on every call."""

    def __init__(
        self,
        service: str,
        base_url: str,
        token: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ):
        if not base_url:
            raise ValueError(f"{service}: no base URL configured")
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        # proxies from the environment are read once here, not on every request (requests re-reads the whole
        # environment and looks for ~/.netrc each time: slow for clients that poll, and netrc could replace the
        # bearer token)
        self.session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        self.session.trust_env = False
        self.session.headers["User-Agent"] = "routines/0.1"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:  # never shows the token
        return f"HttpClient({self.service!r}, {self.base_url!r})"

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, idempotent: bool | None = None, **kwargs) -> requests.Response:
        """`idempotent`: may the request be repeated after it reached the server? Default: by the method, and
        True for a request carrying an `Idempotency-Key` header."""
        url = self.url(path)
        if idempotent is None:
            idempotent = method.upper() in IDEMPOTENT_METHODS or "Idempotency-Key" in (
                kwargs.get("headers") or {}
            )
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            what = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
            if not idempotent and not _not_sent(exc):
                raise OutcomeUnknown(
                    f"{self.service}: {method} {url} {what} after the request was sent: it may have been carried "
                    "out, so it is not repeated",
                    None,
                    url,
                ) from exc
            if isinstance(exc, requests.Timeout):
                raise RetryableHttpError(f"{self.service}: timed out at {url}", None, url) from exc
            raise RetryableHttpError(f"{self.service}: cannot connect to {url}", None, url) from exc
        if not idempotent and response.status_code >= 500:
            raise OutcomeUnknown(
                f"{self.service}: HTTP {response.status_code} at {url} ({method}): the request may have been "
                f"carried out, so it is not repeated: {_body_excerpt(response)}",
                response.status_code,
                url,
            )
        classify_response(self.service, response)
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def head(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", True)
        return self.request("HEAD", path, **kwargs)

    def close(self) -> None:
        self.session.close()


def call_with_retries(
    call: Callable[[], T],
    attempts: int = 4,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Retry `call` on `RetryableHttpError` with exponential backoff and jitter; fatal errors pass at once."""
    return retry_call(
        call,
        lambda exc: isinstance(exc, RetryableHttpError),
        attempts=attempts,
        base_delay=base_delay,
        max_delay=max_delay,
        sleep=sleep,
    )
