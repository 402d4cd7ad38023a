"""Counting what model calls consumed: tokens, cost, calls, cache hits, latency.

Each client keeps its own ledger (`llm.usage`) and every call is also added to one process-wide
ledger (`get_usage()`), per model and in total, and to the ledger of every `usage_scope()` open
in the calling thread or task (a training run counts its own calls with one, so two runs in one
process never count each other's). Ledgers are thread-safe.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class UsageStats:
    """Counts of what some calls consumed, summed (one model's, or a total).

    `calls` counts answered provider calls and `cache_hits` calls the cache answered;
    `errors` calls that failed after their retries, `retries` the retried attempts and
    `truncated` replies cut at the token limit. `prompt_tokens` and `completion_tokens` are
    summed token counts; `cost` the summed known cost in US dollars and `unpriced_calls` the
    calls whose cost is unknown (not in `cost`); `latency_s` the summed wall time of
    answered calls.
    """

    calls: int = 0  # answered provider calls (cache hits not included)
    cache_hits: int = 0
    errors: int = 0  # calls that ended in an error after retries
    retries: int = 0
    truncated: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0  # sum of known costs
    unpriced_calls: int = 0  # calls whose cost is unknown (not in `cost`)
    latency_s: float = 0.0  # summed wall time of answered calls

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: UsageStats) -> None:
        """Add every count of `other` to this one, in place."""
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def to_dict(self) -> dict[str, Any]:
        """The counts as a dict, `total_tokens` included (for JSON and run records)."""
        data = asdict(self)
        data["total_tokens"] = self.total_tokens
        return data


class UsageLedger:
    """Per-model and total `UsageStats`, updated under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_model: dict[str, UsageStats] = {}

    def record(self, model: str, **deltas: float) -> None:
        """Add the keyword `deltas` (`UsageStats` field names: ``calls=1, cost=0.01``) to the
        counts of `model`."""
        change = UsageStats(**deltas)
        with self._lock:
            self._by_model.setdefault(model or "unknown", UsageStats()).add(change)

    @property
    def total(self) -> UsageStats:
        """The sum over every model (a new object)."""
        total = UsageStats()
        with self._lock:
            for stats in self._by_model.values():
                total.add(stats)
        return total

    @property
    def by_model(self) -> dict[str, UsageStats]:
        """A copy: later calls do not change it."""
        with self._lock:
            return {model: _copy(stats) for model, stats in self._by_model.items()}

    def snapshot(self) -> dict[str, Any]:
        """The total and the per-model counts as plain dicts, frozen at this moment."""
        return {
            "total": self.total.to_dict(),
            "by_model": {model: stats.to_dict() for model, stats in self.by_model.items()},
        }

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._by_model.clear()

    def merge(self, by_model: dict[str, UsageStats]) -> None:
        """Add usage counted elsewhere (e.g. another process's `usage_scope`); `by_model`
        maps model names to their `UsageStats`."""
        with self._lock:
            for model, stats in by_model.items():
                self._by_model.setdefault(model, UsageStats()).add(stats)

    def summary(self) -> str:
        """A small text table, one line per model and a total."""
        rows = [("model", "calls", "hits", "tokens in", "tokens out", "cost $", "errors")]
        items = sorted(self.by_model.items())
        for name, stats in [*items, ("TOTAL", self.total)]:
            rows.append(
                (
                    name,
                    str(stats.calls),
                    str(stats.cache_hits),
                    str(stats.prompt_tokens),
                    str(stats.completion_tokens),
                    f"{stats.cost:.4f}",
                    str(stats.errors),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
        )

    def __getstate__(self) -> dict[str, Any]:
        return {"by_model": self.by_model}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self._by_model = state["by_model"]


def _copy(stats: UsageStats) -> UsageStats:
    return UsageStats(**asdict(stats))


_GLOBAL_LEDGER = UsageLedger()


def get_usage() -> UsageLedger:
    """The process-wide ledger of every call made through `opto.llm`."""
    return _GLOBAL_LEDGER


def reset_usage() -> None:
    """Empty the process-wide ledger (open `usage_scope` ledgers are not touched)."""
    _GLOBAL_LEDGER.reset()


_SCOPES: contextvars.ContextVar[tuple[UsageLedger, ...]] = contextvars.ContextVar(
    "opto_usage_scopes", default=()
)


@contextmanager
def usage_scope(ledger: UsageLedger | None = None) -> Iterator[UsageLedger]:
    """A ledger of the calls made in this thread or task while the block runs.

    `ledger`: the ledger to add to (a new one by default), so one ledger can count a piece
    of work over several blocks, e.g. a training run over its sessions. asyncio tasks and
    `asyncio.to_thread` inherit the scope; a thread you start yourself does only if it runs in
    a copy of this context (`contextvars.copy_context().run`), as opto's own thread pools do.
    Worker processes use a scope to send what one task spent back to the process that owns
    the run (`add_remote_usage`), so its totals and budgets include work done elsewhere.
    """
    ledger = ledger if ledger is not None else UsageLedger()
    token = _SCOPES.set((*_SCOPES.get(), ledger))
    try:
        yield ledger
    finally:
        _SCOPES.reset(token)


def record_usage(model: str, **deltas: float) -> None:
    """Count one event of `model` in the process-wide ledger and in every open
    `usage_scope`; `deltas` are `UsageStats` field names with the amounts to add."""
    _GLOBAL_LEDGER.record(model, **deltas)
    for ledger in _SCOPES.get():
        ledger.record(model, **deltas)


def add_remote_usage(by_model: dict[str, UsageStats], *, counted_here: bool) -> None:
    """Add usage measured in another thread or process to every `usage_scope` open here.

    `by_model` maps model names to their `UsageStats`.
    `counted_here`: the calls were made in this process, so the process-wide ledger already
    holds them; otherwise they are added to it too.
    """
    if not counted_here:
        _GLOBAL_LEDGER.merge(by_model)
    for ledger in _SCOPES.get():
        ledger.merge(by_model)
