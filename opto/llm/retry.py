"""When to try a failed call again, and how long to wait first.

Only errors marked retryable (rate limits, 5xx, timeouts, dropped connections) are retried.
The wait grows exponentially with random jitter, is never shorter than the server's Retry-After,
and the sum of all waits for one call is bounded: a Retry-After longer than what is left of that
bound ends the call at once with the server's error, instead of sleeping for an hour.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from time import time

from opto.llm.errors import LLMError


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5  # a wait is drawn from [delay * (1 - jitter), delay]
    max_total_wait: float = 120.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")
        if min(self.base_delay, self.max_delay, self.max_total_wait) < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, attempt: int) -> float:
        """The jittered exponential wait after failed attempt number `attempt` (1-based)."""
        delay = min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))
        return delay * (1.0 - self.jitter * self.rng.random())

    def next_delay(self, attempt: int, error: LLMError, waited: float) -> float | None:
        """Seconds to wait before the next attempt, or None to give up and raise `error`.

        `waited` is the time already spent waiting between attempts of this call.
        """
        if not error.retryable or attempt >= self.max_attempts:
            return None
        delay = self.backoff(attempt)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        if waited + delay > self.max_total_wait:
            return None
        return delay


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), if present."""
    if not headers:
        return None
    lowered = {str(key).lower(): value for key, value in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError, IndexError):
        return None
