"""Retrying a call whose errors look temporary (Trace 0.2's ``retry_with_exponential_backoff``).

opto's own LLM clients retry through ``opto.llm`` (typed errors, budgets); this function is
for user code that wraps a call of its own, as Trace programs do. It decides from the error's
text and type, like Trace's, but it re-raises an error that is not temporary unchanged (Trace
turned the last one into a RuntimeError whatever it was), always calls ``func`` at least once,
keeps the last error as the cause, and caps each wait at ``max_delay`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["is_rate_limit", "is_retryable", "retry_with_exponential_backoff"]

T = TypeVar("T")

_TEMPORARY_TEXT = (
    "rate limit",
    "timeout",
    "temporary",
    "service unavailable",
    "internal server error",
    "bad gateway",
    "service temporarily unavailable",
    "too many requests",
    "quota",
    "overloaded",
    "resource has been exhausted",
    "resource_exhausted",
    "ratelimiterror",
    "quotaexceedederror",
    "connection error",
    "network",
    "json decode",
)
_TEMPORARY_TYPES = (
    "ratelimiterror",
    "timeouterror",
    "apiconnectionerror",
    "serviceunavailableerror",
    "internalservererror",
    "jsondecodeerror",
)
_TEMPORARY_CODES = ('code": 429', 'code": 503', 'code": 502', 'code": 500')
_RATE_LIMIT_TEXT = ("rate limit", "ratelimiterror", "quota", "resource has been exhausted")


def is_retryable(error: BaseException) -> bool:
    """True when the error's message or type says it is temporary (rate limit, 5xx, ...)."""
    text = str(error).lower()
    kind = type(error).__name__.lower()
    return (
        any(marker in text for marker in _TEMPORARY_TEXT)
        or any(marker in kind for marker in _TEMPORARY_TYPES)
        or any(code in text for code in _TEMPORARY_CODES)
    )


def is_rate_limit(error: BaseException) -> bool:
    """True when ``error`` is a rate-limit or quota error (by type name or message), which
    the retry loop waits longer for."""
    text = str(error).lower()
    kind = type(error).__name__.lower()
    return any(m in text or m in kind for m in _RATE_LIMIT_TEXT) or 'code": 429' in text


def retry_with_exponential_backoff(
    func: Callable[[], T],
    max_retries: int = 10,
    base_delay: float = 1.0,
    operation_name: str = "operation",
    *,
    max_delay: float = 60.0,
    sleep: Callable[[float], Any] = time.sleep,
) -> T:
    """Call ``func()`` until it succeeds, at most ``max_retries`` times (at least once).

    A temporary error waits and tries again: after attempt ``k`` (from 0), rate limits wait
    ``2 * (k + 1) ** 2 + k`` seconds and other errors ``base_delay * 2 ** k + 0.1 * k``, each
    wait capped at ``max_delay``. Any other error is raised at once, unchanged. When every
    attempt failed, RuntimeError("<operation_name>: Failed after <n> attempts. Error: <e>") is
    raised from the last error. ``sleep`` is the waiting function (tests pass a fake one).
    """
    attempts = max(1, max_retries)
    for attempt in range(attempts):
        try:
            return func()
        except Exception as error:
            if not is_retryable(error):
                raise
            if attempt == attempts - 1:
                raise RuntimeError(
                    f"{operation_name}: Failed after {attempts} attempts. Error: {error}"
                ) from error
            if is_rate_limit(error):
                delay = 2 * (attempt + 1) ** 2 + attempt
            else:
                delay = base_delay * 2**attempt + 0.1 * attempt
            sleep(min(delay, max_delay))
