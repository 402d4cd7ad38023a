"""What the choke point says about a call as it goes: log lines and the call history.

Kept apart from `opto.llm.base` so the pipeline there reads as the steps of a call; each
function here is one event of that pipeline. Log records go to the ``opto.llm`` loggers
(see `opto.utils.logging_setup` for the switch): retries at INFO with their wait and cause,
cache hits and waits for an identical call in flight at DEBUG.
"""

from __future__ import annotations

import logging
from typing import Any

from opto.llm.history import CallHistory, remember_call

logger = logging.getLogger(__name__)


def log_retry(model: str, error: BaseException, attempt: int, delay: float) -> None:
    """Log that attempt number ``attempt`` of a call to ``model`` failed with ``error`` and
    will be retried after ``delay`` seconds (INFO: a user watching a slow run sees why)."""
    logger.info(
        "%s: attempt %d failed (%s: %s); retrying in %.2f s",
        model,
        attempt,
        type(error).__name__,
        getattr(error, "message", error),
        delay,
    )


def log_cache_hit(model: str, key: str | None) -> None:
    """Log that the cache answered a call to ``model`` under ``key`` (no tokens, no cost)."""
    logger.debug("%s: answered from the cache (key %s)", model, (key or "")[:12])


def log_flight_wait(model: str, key: str | None) -> None:
    """Log that an identical cacheable call to ``model`` (same cache ``key``) is in flight
    and this one waits for its reply instead of paying twice."""
    logger.debug("%s: waiting for an identical call in flight (key %s)", model, (key or "")[:12])


def log_failure(model: str, error: BaseException) -> None:
    """Log that a call to ``model`` failed for good with ``error``, which is then raised to
    the caller."""
    attempts = getattr(error, "attempts", 0) or 1
    logger.debug("%s: call failed after %d attempt(s): %s", model, attempts, error)


def remember(
    history: CallHistory,
    client: Any,
    request: dict[str, Any],
    response: Any = None,
    error: BaseException | None = None,
) -> None:
    """Record a call of ``client`` in its ``history`` and in the process-wide one, for
    ``inspect_history``: the ``request`` sent and either its ``response`` or its ``error``."""
    remember_call(history, repr(client), request, response=response, error=error)
