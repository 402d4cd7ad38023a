"""Dry runs: model calls answered by a stand-in that records what each call would have been.

Inside ``with dry_run() as recorder:`` no opto client sends anything: every call made in that
block's context (this thread or task, and work run in a copy of its context) is recorded (model, estimated prompt tokens, token limit, price) and answered at once
with a placeholder reply, free and uncached (an embedding request gets an empty vector). Code that calls models (an agent's forward pass,
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
from contextvars import ContextVar
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
    it asked for (``n``); ``price`` the client's price per token (None if unknown); ``model``
    the model the request named.
    """

    model: str
    prompt_tokens: int
    max_tokens: int | None
    choices: int
    price: Price | None


class DryRunRecorder:
    """The calls intercepted during one ``dry_run()`` block, in the order they were made.

    ``reply`` is the text every intercepted chat call returns, so that the program keeps
    running without a model (a parser that needs more than a placeholder may fail on it).
    """

    def __init__(self, reply: str = PLACEHOLDER_REPLY) -> None:
        self.reply = reply
        self.calls: list[RecordedCall] = []
        self._lock = threading.Lock()

    def record(
        self, model: str, prompt_tokens: int, request: dict[str, Any], price: Price | None
    ) -> RecordedCall:
        """Record the call described by ``request`` (a chat or an embedding request) to
        ``model``, whose prompt measured ``prompt_tokens`` and which costs ``price`` per token
        (None: unknown)."""
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
        return recorded

    def answer(
        self, model: str, prompt_tokens: int, request: dict[str, Any], price: Price | None
    ) -> ChatResponse:
        """Record the chat call described by ``request`` (see :meth:`record` for ``model``,
        ``prompt_tokens`` and ``price``) and return the placeholder reply instead of calling."""
        recorded = self.record(model, prompt_tokens, request, price)
        return ChatResponse(
            choices=[
                Choice(index=i, message=Message(content=self.reply), finish_reason="stop")
                for i in range(recorded.choices)
            ],
            model=model,
            usage=Usage(cost=0.0, attempts=0),
        )


_ACTIVE: ContextVar[DryRunRecorder | None] = ContextVar("opto_dry_run", default=None)


def active_dry_run() -> DryRunRecorder | None:
    """The innermost ``dry_run()`` block open in this thread or task, or None outside any."""
    return _ACTIVE.get()


@contextmanager
def dry_run(reply: str = PLACEHOLDER_REPLY) -> Iterator[DryRunRecorder]:
    """Answer the model calls made inside this block with ``reply``.

    The block covers this thread or asyncio task and what runs in a copy of its context (the
    trainer's worker threads copy it; see ``usage_scope`` for threads you start yourself):
    a real run in another thread of the same process is not affected. ``reply`` is the text
    each intercepted call returns. Blocks nest; the innermost records.
    """
    recorder = DryRunRecorder(reply)
    token = _ACTIVE.set(recorder)
    try:
        yield recorder
    finally:
        _ACTIVE.reset(token)
