"""Markdown code fences in a reply: where they are, their language, and unwrapping one.

Models put JSON objects and code inside ``` fences; the JSON reader scans fenced spans on
their own (json_candidates.py), values that are one fenced block are unwrapped, and the
discovery loop takes a fenced Python function when a reply has no JSON. All scans are linear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE_OPEN = re.compile(r"```[\w+.#-]*[ \t]*")


@dataclass(frozen=True)
class Fence:
    """One fenced block: its info string (``python`` in ```python) and where it is.

    The content is ``text[start:end]``; the block with its fence lines is
    ``text[outer_start:outer_end]``. ``closed`` is False for a last fence that never closes;
    its content then runs to the end of the text. ``language`` is the info string ("" when
    the fence has none).
    """

    language: str
    start: int
    end: int
    closed: bool
    outer_start: int
    outer_end: int


def code_fences(text: str) -> list[Fence]:
    """Every ``` fenced block of ``text`` in order; an unclosed last fence runs to the end.

    The opening fence must be followed by a line break (its info string is the rest of that
    line); the closing fence is the next ``` anywhere after it.
    """
    fences = []
    pos = 0
    while True:
        opening = text.find("```", pos)
        if opening < 0:
            return fences
        line_end = text.find("\n", opening)
        if line_end < 0:
            return fences
        language = text[opening + 3 : line_end].strip()
        closing = text.find("```", line_end + 1)
        if closing < 0:
            fences.append(Fence(language, line_end + 1, len(text), False, opening, len(text)))
            return fences
        fences.append(Fence(language, line_end + 1, closing, True, opening, closing + 3))
        pos = closing + 3


def fenced_blocks(text: str) -> list[tuple[int, int]]:
    """Content spans ``(start, end)`` of ``code_fences(text)``."""
    return [(fence.start, fence.end) for fence in code_fences(text)]


def unwrap_fence(value: str) -> str:
    """The content of a value that is exactly one ``` fenced block, else the value unchanged."""
    stripped = value.strip()
    if not (stripped.startswith("```") and stripped.endswith("```")):
        return value
    lines = stripped.split("\n")
    if len(lines) < 2 or lines[-1].strip() != "```" or not _FENCE_OPEN.fullmatch(lines[0]):
        return value
    inner = lines[1:-1]
    if any(line.lstrip().startswith("```") for line in inner):
        return value
    return "\n".join(inner)
