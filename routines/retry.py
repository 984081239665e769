"""Retrying a call in-process with exponential backoff: one loop for every client (HTTP, SMTP, ...).

Dagster's `RetryPolicy` retries whole steps; this is for the short waits inside one step (a 503 while polling a
job, a busy SMTP server), where failing the step would throw away work already done.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def retry_call(
    call: Callable[[], T],
    is_retryable: Callable[[Exception], bool],
    attempts: int = 4,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    jitter: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[Exception, int, float], None] | None = None,
) -> T:
    """Call `call` up to `attempts` times; between tries wait base_delay * 2^(n-1) (capped, +-20% with
    `jitter`), or longer when the error says how long to wait (a `retry_after` attribute in seconds, e.g. an HTTP
    `Retry-After`); an error asking for more than `max_delay` is raised at once, for the caller's own retry
    policy. An error that is not retryable, or the last one, is raised as it is. `on_retry(error, attempt,
    delay)` is told before each wait."""
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            if jitter:
                delay *= random.uniform(0.8, 1.2)
            asked = getattr(exc, "retry_after", None)
            if asked is not None:
                if asked > max_delay:
                    raise
                delay = max(delay, asked)
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            sleep(delay)
    raise AssertionError("unreachable")
