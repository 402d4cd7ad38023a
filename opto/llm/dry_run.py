"""Dry runs: model calls answered by a stand-in that records what each call would have been.

Inside ``with dry_run() as recorder:`` no opto client sends anything: every call, from any
thread, is recorded (model, estimated prompt tokens, token limit, price) and answered at once
with a placeholder reply, free and uncached. Code that calls models (an agent's forward pass,
an LLM judge, an optimizer's step) can so run far enough to show the prompts it would send.
This is how ``train(..., dry_run=True)`` measures a real prompt without paying for it.

The placeholder says it is one; code that parses replies will usually find nothing to parse,
which is expected: a dry run measures requests, not answers. Calls made without an opto
client (a provider SDK used directly) are not seen.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opto.llm.pricing import Price
from opto.llm.response import ChatResponse, Choice, Message, Usage

PLACEHOLDER_REPLY = "(dry run: no model was called)"


@dataclass(frozen=True)
class RecordedCall:
    """One call a dry run intercepted.

    ``prompt_tokens`` is opto's estimate of the request's prompt (the one budgets use);
    ``max_tokens`` the reply limit the request set (None if none); ``choices`` how many replies
    it asked for (``n``); ``price`` the client's price per token (None if unknown).
    """

    model: str
    prompt_tokens: int
    max_tokens: int | None
    choices: int
    price: Price | None


class DryRunRecorder:
    """The calls intercepted during one ``dry_run()`` block, in the order they were made."""

    def __init__(self, reply: str = PLACEHOLDER_REPLY) -> None:
        self.reply = reply
        self.calls: list[RecordedCall] = []
        self._lock = threading.Lock()

    def answer(
        self, model: str, prompt_tokens: int, request: dict[str, Any], price: Price | None
    ) -> ChatResponse:
        """Record the call described by ``request`` and return the placeholder reply."""
        limit = request.get("max_tokens") or request.get("max_completion_tokens")
        choices = request.get("n") or 1
        recorded = RecordedCall(
            model=model,
            prompt_tokens=prompt_tokens,
            max_tokens=int(limit) if limit else None,
            choices=int(choices),
            price=price,
        )
        with self._lock:
            self.calls.append(recorded)
        return ChatResponse(
            choices=[
                Choice(index=i, message=Message(content=self.reply), finish_reason="stop")
                for i in range(recorded.choices)
            ],
            model=model,
            usage=Usage(cost=0.0, attempts=0),
        )


_ACTIVE: list[DryRunRecorder] = []
_ACTIVE_LOCK = threading.Lock()


def active_dry_run() -> DryRunRecorder | None:
    """The innermost open ``dry_run()`` block's recorder, or None outside any."""
    with _ACTIVE_LOCK:
        return _ACTIVE[-1] if _ACTIVE else None


@contextmanager
def dry_run(reply: str = PLACEHOLDER_REPLY) -> Iterator[DryRunRecorder]:
    """Answer every model call in this process with ``reply`` while the block runs.

    ``reply`` is the text each intercepted call returns. Blocks nest; the innermost records.
    """
    recorder = DryRunRecorder(reply)
    with _ACTIVE_LOCK:
        _ACTIVE.append(recorder)
    try:
        yield recorder
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.remove(recorder)
