"""Placeholder parser (replaced by the tolerant parser)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ParsedReply:
    reasoning: str | None = None
    answer: Any | None = None
    suggestion: dict[str, Any] = field(default_factory=dict)
    terminate: bool = False
    error: str | None = None
    raw: str = ""
    format: str = "none"


def is_terminate(text: str) -> bool:
    return isinstance(text, str) and text.strip() == "TERMINATE"


def parse_json_reply(
    text, *, reasoning_key="reasoning", answer_key="answer", suggestion_key="suggestion"
):
    if is_terminate(text):
        return ParsedReply(terminate=True, raw=text)
    start, end = text.find("{"), text.rfind("}")
    try:
        obj = json.loads(text[start : end + 1])
    except (ValueError, TypeError) as error:
        return ParsedReply(error=str(error), raw=text)
    return ParsedReply(
        reasoning=obj.get(reasoning_key),
        answer=obj.get(answer_key),
        suggestion=obj.get(suggestion_key) or {},
        raw=text,
        format="json",
    )
