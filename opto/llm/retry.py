"""When to try a failed call again, and how long to wait first.

Only errors marked retryable (rate limits, 5xx, timeouts, dropped connections) are retried.
The wait grows exponentially with random jitter, is never shorter than the server's Retry-After,
and the sum of all waits for one call is bounded: a Retry-After longer than what is left of that
bound ends the call at once with the server's error, instead of sleeping for an hour. With
`total_timeout`, the whole call (attempts and waits) also has a deadline: no wait is started
that would end past it. The engine (`opto.llm.engine`) applies this policy to every call, sync
or async, chat or embedding.
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
    """How often and how patiently a failed call is tried again.

    Args:
        max_attempts: attempts in all, the first included (1: never retry).
        base_delay: the wait after the first failed attempt, in seconds.
        max_delay: the longest single wait.
        multiplier: how much each wait grows over the one before.
        jitter: a wait is drawn from ``[delay * (1 - jitter), delay]``, so clients that failed
            together do not retry together.
        max_total_wait: the most seconds one call spends waiting between its attempts.
        total_timeout: the most seconds one call may take, attempts and waits together (None:
            no limit); each attempt's timeout is cut to what is left of it.
        rng: the random source of the jitter (give a seeded one for reproducible waits).
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5  # a wait is drawn from [delay * (1 - jitter), delay]
    max_total_wait: float = 120.0
    total_timeout: float | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")
        if min(self.base_delay, self.max_delay, self.max_total_wait) < 0:
            raise ValueError("delays must not be negative")
        if self.total_timeout is not None and self.total_timeout <= 0:
            raise ValueError(f"total_timeout must be positive or None, got {self.total_timeout}")

    def backoff(self, attempt: int) -> float:
        """The jittered exponential wait after failed attempt number `attempt` (1-based)."""
        delay = min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))
        return delay * (1.0 - self.jitter * self.rng.random())

    def next_delay(
        self, attempt: int, error: LLMError, waited: float, time_left: float | None = None
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up and raise `error`.

        `waited` is the time already spent waiting between attempts of this call; `time_left`
        the seconds left before the call's deadline (None: it has none). A wait that would end
        at or past the deadline is not started: the call ends with `error` at once.
        """
        if not error.retryable or attempt >= self.max_attempts:
            return None
        delay = self.backoff(attempt)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        if waited + delay > self.max_total_wait:
            return None
        if time_left is not None and delay >= time_left:
            return None
        return delay


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait according to the response `headers`: `retry-after-ms` or `Retry-After`
    (seconds or an HTTP date); None when neither is present or readable."""
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
