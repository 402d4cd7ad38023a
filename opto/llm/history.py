"""The last model calls, kept for inspection: `inspect_history(n)` prints them.

Every call through the choke point (`BaseLLM`, and `Embedder` for embeddings), whoever makes
it (an optimizer, a guide, the agent's own `call_llm`), is remembered twice: in its client's
`llm.history` and in one process-wide history. Both are bounded (a fixed number of records, each text cut to a fixed
length), so a long run holds a constant amount of memory for them. A record holds the
messages, the reply, the model, tokens, cost, latency, whether the cache answered, and the
error of a failed call; request options are kept only from a short list of sampling settings,
so API keys, headers and base URLs never enter it.
"""

from __future__ import annotations

import datetime
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from opto.llm.response import EmbeddingResponse

DEFAULT_CLIENT_SIZE = 20
DEFAULT_GLOBAL_SIZE = 100
MAX_TEXT_CHARS = 100_000
"""Longer message texts and replies are cut to this many characters in a record."""

KEPT_OPTIONS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "seed",
        "stop",
        "response_format",
        "reasoning_effort",
        "presence_penalty",
        "frequency_penalty",
    }
)
"""Request options a record keeps (the rest, credentials included, are left out)."""


@dataclass(frozen=True)
class CallRecord:
    """One model call as `inspect_history` shows it.

    ``client`` is the client's repr and ``model`` the model called; ``messages`` what was
    sent and ``options`` the request options worth seeing (temperature, max_tokens, ...; never
    credentials). ``replies`` holds the text of each choice and ``finish_reasons`` why each
    ended; ``prompt_tokens``, ``completion_tokens`` and ``cost`` (None: price unknown) are the
    usage; ``cached`` is True when the cache answered (no tokens, no cost); ``latency_s`` is
    the wall time and ``attempts`` the attempts made; ``error`` is ``"ErrorType: message"``
    for a call that failed; ``timestamp`` is when it was recorded (``time.time()``).
    """

    client: str
    model: str
    messages: tuple[dict[str, Any], ...]
    options: dict[str, Any] = field(default_factory=dict)
    replies: tuple[str, ...] = ()
    finish_reasons: tuple[str | None, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    cached: bool = False
    latency_s: float = 0.0
    attempts: int = 0
    error: str | None = None
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON-friendly data."""
        return asdict(self)

    def render(self) -> str:
        """The record as readable text: a header line, each message, then the reply."""
        when = datetime.datetime.fromtimestamp(self.timestamp).strftime("%Y-%m-%d %H:%M:%S")
        if self.cached:
            spent = "cache hit (no tokens, no cost)"
        else:
            cost = "cost unknown" if self.cost is None else f"${self.cost:.6f}"
            spent = (
                f"{self.prompt_tokens} tokens in, {self.completion_tokens} out, {cost}, "
                f"{self.latency_s:.2f} s, {self.attempts} attempt(s)"
            )
        lines = [f"[{when}] {self.model} via {self.client}: {spent}"]
        if self.options:
            lines.append("options: " + ", ".join(f"{k}={v!r}" for k, v in self.options.items()))
        for message in self.messages:
            lines.append(f"--- {message.get('role', '?')}")
            lines.append(_content_text(message.get("content")))
        if self.error is not None:
            lines.append(f"--- error\n{self.error}")
        for position, reply in enumerate(self.replies):
            label = "response" if len(self.replies) == 1 else f"response {position}"
            reason = self.finish_reasons[position] if position < len(self.finish_reasons) else None
            lines.append(f"--- {label}" + (f" (finish_reason {reason})" if reason else ""))
            lines.append(reply)
        return "\n".join(lines)


class CallHistory:
    """The last ``size`` call records, oldest first; thread-safe.

    Args:
        size: how many records to keep (older ones are dropped); 0 keeps none.
    """

    def __init__(self, size: int = DEFAULT_CLIENT_SIZE) -> None:
        if size < 0:
            raise ValueError(f"history size must be 0 or more, got {size}")
        self._lock = threading.Lock()
        self._records: deque[CallRecord] = deque(maxlen=size)

    @property
    def size(self) -> int:
        """How many records are kept at most."""
        return self._records.maxlen or 0

    def resize(self, size: int) -> None:
        """Keep at most ``size`` records from now on (the newest ones stay)."""
        if size < 0:
            raise ValueError(f"history size must be 0 or more, got {size}")
        with self._lock:
            self._records = deque(self._records, maxlen=size)

    def add(self, record: CallRecord) -> None:
        """Append ``record``, dropping the oldest one when full."""
        with self._lock:
            self._records.append(record)

    def last(self, n: int = 1) -> list[CallRecord]:
        """The ``n`` most recent records, oldest first."""
        with self._lock:
            records = list(self._records)
        return records[-n:] if n > 0 else []

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        return len(self._records)

    def render(self, n: int = 1) -> str:
        """The ``n`` most recent records as text, oldest first."""
        records = self.last(n)
        if not records:
            return "(no LLM calls recorded)"
        return "\n\n".join(record.render() for record in records)


_GLOBAL_HISTORY = CallHistory(DEFAULT_GLOBAL_SIZE)


def global_history() -> CallHistory:
    """The process-wide history: the last calls of every client (resize it with `resize`)."""
    return _GLOBAL_HISTORY


def inspect_history(n: int = 1, client: Any = None, file: IO[str] | None = None) -> None:
    """Print the last ``n`` model calls: messages, reply, model, tokens, cost, cache hit.

    Args:
        n: how many calls (the most recent ones, printed oldest first).
        client: an LLM client (its ``history``) or a `CallHistory`; by default the calls of
            every client in this process.
        file: where to print (default: standard output).
    """
    history = getattr(client, "history", client) if client is not None else _GLOBAL_HISTORY
    if not isinstance(history, CallHistory):
        raise TypeError(
            f"client must be an opto LLM client or a CallHistory, got {type(client).__name__}"
        )
    print(history.render(n), file=file if file is not None else sys.stdout)


def remember_call(
    history: CallHistory,
    client: str,
    request: Mapping[str, Any],
    response: Any = None,
    error: BaseException | None = None,
) -> None:
    """Add one call to ``history`` and to the process-wide history.

    Args:
        history: the client's own history.
        client: how to name the client in the record (its repr).
        request: what the provider received (model, messages or an embedding's input,
            options).
        response: the `ChatResponse` or `EmbeddingResponse`, when the call was answered.
        error: the exception, when it failed.
    """
    if not history.size and not _GLOBAL_HISTORY.size:
        return
    messages = request.get("messages") or [
        {"role": "input", "content": text} for text in request.get("input") or ()
    ]
    record = CallRecord(
        client=client,
        model=str(request.get("model") or "unknown"),
        messages=tuple(_kept_message(m) for m in messages),
        options={k: _short(v) for k, v in request.items() if k in KEPT_OPTIONS},
        error=None if error is None else _cut(f"{type(error).__name__}: {error}"),
        **({} if response is None else _response_fields(response)),
    )
    history.add(record)
    _GLOBAL_HISTORY.add(record)


def _response_fields(response: Any) -> dict[str, Any]:
    usage = response.usage
    if isinstance(response, EmbeddingResponse):
        replies: tuple[str, ...] = (f"(an embedding of {len(response.vector)} numbers)",)
        finish_reasons: tuple[str | None, ...] = ()
    else:
        replies = tuple(_cut(choice.message.content or "") for choice in response.choices)
        finish_reasons = tuple(choice.finish_reason for choice in response.choices)
    return {
        "replies": replies,
        "finish_reasons": finish_reasons,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost": usage.cost,
        "cached": usage.cache_hit,
        "latency_s": usage.latency_s,
        "attempts": usage.attempts,
    }


def _kept_message(message: Any) -> dict[str, Any]:
    if not isinstance(message, Mapping):
        return {"role": "?", "content": _cut(str(message))}
    kept = {"role": str(message.get("role", "?"))}
    content = message.get("content")
    kept["content"] = _cut(content) if isinstance(content, str) else _content_text(content)
    return kept


def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or the text parts of a list (images named)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, Mapping):
                parts.append(f"[{part.get('type', 'part')}]")
            else:
                parts.append(str(part))
        return _cut("\n".join(parts))
    return _cut(str(content))


def _short(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _cut(str(value), 200)


def _cut(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters not kept]"
