"""HTTP helper on `requests`: timeouts always set, errors classified for retries, tokens never shown.

- 401/403 -> `TokenRejected` (fatal: retrying cannot help);
- 404, 408, 425, 429, 5xx, timeouts and connection errors -> `RetryableHttpError`;
- any other 4xx -> `HttpError` (fatal).

Dagster glue (`routines.lib.resources`) turns fatal errors into `dg.Failure(allow_retries=False)` so that the
assets' `RetryPolicy` retries only what may succeed later. The bearer token goes only into the request header;
messages name the service and the URL path, never the token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import requests

from routines.retry import retry_call

DEFAULT_TIMEOUT = (10.0, 120.0)  # connect, read (seconds)
RETRYABLE_STATUS = frozenset({404, 408, 425, 429, 500, 502, 503, 504})

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
    """A failure that may pass later: not published yet (404), throttled (429), server errors, timeouts."""

    retryable = True


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
        raise RetryableHttpError(message, status, url)
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
        self.session.headers["User-Agent"] = "routines/0.1"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:  # never shows the token
        return f"HttpClient({self.service!r}, {self.base_url!r})"

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        url = self.url(path)
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise RetryableHttpError(f"{self.service}: timed out at {url}", None, url) from exc
        except requests.ConnectionError as exc:
            raise RetryableHttpError(f"{self.service}: cannot connect to {url}", None, url) from exc
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
