"""The OpenAI-shaped reply every backend returns.

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
    role: str = "assistant"
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


@dataclass
class Choice(_ItemAccess):
    index: int = 0
    message: Message = field(default_factory=Message)
    finish_reason: str | None = None


@dataclass
class Usage(_ItemAccess):
    """What one call consumed. A cache hit has zero tokens and zero cost."""

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
        return self.choices[0].finish_reason

    @property
    def truncated(self) -> bool:
        """True when a choice stopped at the token limit."""
        return any(choice.finish_reason == "length" for choice in self.choices)

    @property
    def cache_hit(self) -> bool:
        return self.usage.cache_hit

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_text(
        cls, text: str | None, model: str = "", finish_reason: str = "stop"
    ) -> ChatResponse:
        return cls(
            choices=[Choice(0, Message("assistant", text), finish_reason)],
            model=model,
        )

    @classmethod
    def from_dict(cls, data: Any, model: str = "") -> ChatResponse:
        """Parse a chat-completions body (a dict); raises `MalformedResponseError` if it is not one."""
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
    """

    def __init__(self, model: str = "", on_delta: Callable[[str], None] | None = None) -> None:
        self._texts: dict[int, list[str]] = {}
        self._finish: dict[int, str | None] = {}
        self._body: dict[str, Any] = {"model": model, "usage": None}
        self._on_delta = on_delta

    def add(self, chunk: Any) -> None:
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
