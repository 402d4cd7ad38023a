"""The OpenAI-shaped reply every backend returns, and the reply of an embedding call.

Trace code reads `response.choices[0].message.content`; these small dataclasses give exactly
that shape, plus a `usage` record, whatever the provider. They round-trip through plain dicts so
the cache and replay files are JSON, never pickle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from opto.llm.errors import MalformedResponseError


class _ItemAccess:
    """Lets `response["choices"][0]["message"]["content"]` work as with litellm's objects."""

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


@dataclass
class Message(_ItemAccess):
    """One message of a reply: its `role` (``assistant``), its text `content` (None when the
    model only called tools) and the `tool_calls` it asked for, as the provider sent them.

    Readable as attributes (`message.content`) or, as in Trace, as a dict (`message["content"]`).
    """

    role: str = "assistant"
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


@dataclass
class Choice(_ItemAccess):
    """One of the `n` replies of a call: its position `index`, its `message` and the
    `finish_reason` (``stop``; ``length`` when it was cut at the token limit)."""

    index: int = 0
    message: Message = field(default_factory=Message)
    finish_reason: str | None = None


@dataclass
class Usage(_ItemAccess):
    """What one call consumed. A cache hit has zero tokens and zero cost.

    `prompt_tokens`, `completion_tokens` and `total_tokens` are the provider's counts (see
    `estimated`); `cost` is in US dollars, None when the model's price is unknown;
    `cache_hit` says the cache answered; `latency_s` is the wall time of the call, retries
    included; `attempts` how many requests were sent; `estimated` is True when the server
    reported no counts and opto estimated them.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = 0.0  # None when the model's price is unknown
    cache_hit: bool = False
    latency_s: float = 0.0
    attempts: int = 1
    estimated: bool = False  # tokens were estimated because the server reported none


@dataclass
class ChatResponse(_ItemAccess):
    """The reply of a chat call, shaped like an OpenAI chat completion so that Trace code
    (`response.choices[0].message.content`) keeps working.

    `choices` are the replies (one unless `n` was set); `model` the model that answered;
    `usage` what the call consumed; `id`, `created` and `object` are the provider's
    identifiers, kept for code that reads them.
    """

    choices: list[Choice]
    model: str = ""
    usage: Usage = field(default_factory=Usage)
    id: str = ""
    created: int = 0
    object: str = "chat.completion"

    @property
    def content(self) -> str | None:
        """Text of the first choice, the common case."""
        return self.choices[0].message.content

    @property
    def finish_reason(self) -> str | None:
        """Why the first choice ended (``stop``, ``length``, ...)."""
        return self.choices[0].finish_reason

    @property
    def truncated(self) -> bool:
        """True when a choice stopped at the token limit."""
        return any(choice.finish_reason == "length" for choice in self.choices)

    @property
    def cache_hit(self) -> bool:
        """True when the cache answered (no tokens, no cost)."""
        return self.usage.cache_hit

    def to_dict(self) -> dict[str, Any]:
        """The response as plain nested dicts and lists (for the cache and for JSON)."""
        return asdict(self)

    @classmethod
    def from_text(
        cls, text: str | None, model: str = "", finish_reason: str = "stop"
    ) -> ChatResponse:
        """A one-choice response whose message is `text`, as if `model` had answered and
        stopped for `finish_reason`; for clients around plain functions and for tests."""
        return cls(
            choices=[Choice(0, Message("assistant", text), finish_reason)],
            model=model,
        )

    @classmethod
    def from_dict(cls, data: Any, model: str = "") -> ChatResponse:
        """Parse the chat-completions body `data` (a dict); raises `MalformedResponseError` if
        it is not one. `model` is used when the body names none, and in the error."""
        if not isinstance(data, dict):
            raise MalformedResponseError(
                f"expected a JSON object with 'choices', got {type(data).__name__}: {_excerpt(data)}",
                model=model or None,
            )
        raw_choices = data.get("choices")
        if not isinstance(raw_choices, list) or not raw_choices:
            raise MalformedResponseError(
                f"reply has no 'choices' list: {_excerpt(data)}", model=model or None
            )
        choices = [_parse_choice(i, raw, model) for i, raw in enumerate(raw_choices)]
        usage = _parse_usage(data.get("usage"))
        return cls(
            choices=choices,
            model=str(data.get("model") or model),
            usage=usage,
            id=str(data.get("id") or ""),
            created=_whole_number(data.get("created")),
            object=str(data.get("object") or "chat.completion"),
        )


@dataclass
class EmbeddingResponse(_ItemAccess):
    """The embedding of one text, and what the call consumed (a cache hit costs nothing).

    `vector` is the embedding, `model` the model that made it, `usage` what it consumed.
    """

    vector: list[float]
    model: str = ""
    usage: Usage = field(default_factory=Usage)

    @property
    def cache_hit(self) -> bool:
        """True when the cache answered (no tokens, no cost)."""
        return self.usage.cache_hit

    def to_dict(self) -> dict[str, Any]:
        """The reply as the cache keeps it: the vector, the model and the token counts."""
        return {
            "object": "embedding",
            "model": self.model,
            "embedding": list(self.vector),
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "total_tokens": self.usage.total_tokens,
            },
        }

    @classmethod
    def from_dict(cls, data: Any, model: str = "") -> EmbeddingResponse:
        """Read `data`, ``{"embedding": [numbers], "model", "usage"}``; raises
        `MalformedResponseError` when it is not an embedding (not a non-empty list of finite
        numbers). `model` is used when `data` names none."""
        if not isinstance(data, dict):
            raise MalformedResponseError(
                f"expected a JSON object with 'embedding', got {type(data).__name__}: "
                f"{_excerpt(data)}",
                model=model or None,
            )
        raw = data.get("embedding")
        if not isinstance(raw, list) or not raw or not all(_finite_number(value) for value in raw):
            raise MalformedResponseError(
                f"the reply is not an embedding (a non-empty list of numbers): {_excerpt(raw)}",
                model=model or None,
            )
        return cls(
            vector=[float(value) for value in raw],
            model=str(data.get("model") or model),
            usage=_parse_usage(data.get("usage")),
        )


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_choice(position: int, raw: Any, model: str) -> Choice:
    if not isinstance(raw, dict) or not isinstance(raw.get("message"), dict):
        raise MalformedResponseError(
            f"choice {position} has no 'message' object: {_excerpt(raw)}", model=model or None
        )
    message = raw["message"]
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise MalformedResponseError(
            f"choice {position} content is {type(content).__name__}, not text",
            model=model or None,
        )
    index = raw.get("index")
    return Choice(
        index=index if isinstance(index, int) else position,
        message=Message(
            role=str(message.get("role") or "assistant"),
            content=content,
            tool_calls=message.get("tool_calls") or None,
        ),
        finish_reason=raw.get("finish_reason"),
    )


def _parse_usage(raw: Any) -> Usage:
    """The token counts the server reported (0 when absent or not a number); the rest of
    `Usage` is opto's own accounting, filled in by the client."""
    if not isinstance(raw, dict):
        return Usage()
    prompt = _whole_number(raw.get("prompt_tokens"))
    completion = _whole_number(raw.get("completion_tokens"))
    total = _whole_number(raw.get("total_tokens")) or prompt + completion
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


def _whole_number(value: Any) -> int:
    """An int from an int, a finite float or a decimal string; 0 for anything else."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        try:
            return int(value.strip()) if len(value) <= 40 else 0
        except ValueError:
            return 0
    return 0


class StreamAssembler:
    """Joins streamed chat-completion chunks (as dicts) into one completion body.

    Text deltas are concatenated per choice index; the last finish_reason and the usage sent with
    the final chunk (when the server sends one) are kept. Tool-call deltas are not joined.
    `model` is used when the chunks name none; `on_delta` is called with each text piece as it
    arrives (to print a reply while it streams).
    """

    def __init__(self, model: str = "", on_delta: Callable[[str], None] | None = None) -> None:
        self._texts: dict[int, list[str]] = {}
        self._finish: dict[int, str | None] = {}
        self._body: dict[str, Any] = {"model": model, "usage": None}
        self._on_delta = on_delta

    def add(self, chunk: Any) -> None:
        """Take the next streamed `chunk`; a chunk that is not an object is a malformed reply."""
        if not isinstance(chunk, dict):
            raise MalformedResponseError(f"stream chunk is not an object: {_excerpt(chunk)}")
        for key in ("id", "model", "created"):
            self._body[key] = chunk.get(key) or self._body.get(key)
        if chunk.get("usage"):
            self._body["usage"] = chunk["usage"]
        for raw in chunk.get("choices") or []:
            index = raw.get("index") or 0
            piece = (raw.get("delta") or {}).get("content")
            pieces = self._texts.setdefault(index, [])
            if piece:
                pieces.append(piece)
                if self._on_delta is not None:
                    self._on_delta(piece)
            if raw.get("finish_reason"):
                self._finish[index] = raw["finish_reason"]

    def result(self) -> dict[str, Any]:
        """The completion body the chunks add up to, ready for `ChatResponse.from_dict`."""
        body = dict(self._body)
        body["choices"] = [
            {
                "index": index,
                "message": {"role": "assistant", "content": "".join(self._texts[index])},
                "finish_reason": self._finish.get(index),
            }
            for index in sorted(self._texts)
        ]
        return body


def _excerpt(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
