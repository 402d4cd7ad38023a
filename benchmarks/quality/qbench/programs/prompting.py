"""The LLM agent of the prompt tasks: a traced call with a trainable system instruction."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from opto.trace import bundle, node

INITIAL_INSTRUCTION = "You are a helpful assistant."
INSTRUCTION_DESCRIPTION = (
    "the system message given to the language model before each request; it should make "
    "the model's replies correct"
)


class Assistant:
    """A language model answering requests; ``chat(system, user)`` makes one call."""

    def __init__(self, chat: Callable[[str, str], str]) -> None:
        self.chat = chat

    def __repr__(self) -> str:
        return "Assistant()"

    @bundle()
    def respond(self, instruction, request):
        """Sends the instruction as the system message and the request as the user message
        to the language model, and returns its reply."""
        return self.chat(instruction, request)


@bundle()
def collect(*replies):
    """Joins the replies to the training requests, one per line block."""
    return "\n\n".join(f"Reply {i + 1}: {reply}" for i, reply in enumerate(replies))


def trainable_instruction() -> Any:
    return node(
        INITIAL_INSTRUCTION,
        trainable=True,
        name="instruction",
        description=INSTRUCTION_DESCRIPTION,
    )


def final_answer(reply: str) -> str:
    """The text after the last ``Answer:`` of a reply (its first line), else the last line."""
    found = re.findall(r"answer\s*(?:is)?\s*[:=]\s*(.+)", reply, flags=re.IGNORECASE)
    if found:
        return found[-1].strip().strip("*`").strip()
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
