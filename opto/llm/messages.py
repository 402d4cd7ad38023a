"""The shape of a chat request's messages, checked before anything is sent."""

from __future__ import annotations

from typing import Any

from opto.llm.errors import InvalidRequestError


def validate_messages(messages: Any) -> list[dict[str, Any]]:
    """`messages` as a list of {"role", "content"} dicts (a string becomes one user message),
    or `InvalidRequestError` saying what is wrong before anything is sent or paid for."""
    if isinstance(messages, str) and messages:
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError(
            f"messages must be a non-empty list of {{'role': ..., 'content': ...}} dicts, "
            f"got {type(messages).__name__}"
        )
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidRequestError(
                f"messages[{position}] must be a dict with a 'role' string, got {message!r:.120}"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidRequestError(
                f"messages[{position}]['content'] must be text or a list of parts, "
                f"got {type(content).__name__}"
            )
    return messages
