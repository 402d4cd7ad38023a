"""Where JSON objects may be in a reply: brace-balanced spans, found in one linear scan.

A candidate is only a span; json_reader.py decodes it. Strings and comments are skipped so a
brace inside them does not count, and spans inside fenced blocks (code_blocks.py) are
scanned on their own as well, so a stray brace in prose cannot hide the real object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opto.optimizers.parsing.code_blocks import fenced_blocks

MAX_UNCLOSED_CANDIDATES = 3  # unclosed "{" tried as cut-off objects, outermost first

_QUOTE_OR_BACKSLASH = {'"': re.compile(r'["\\]'), "'": re.compile(r"['\\]")}
_SCANNER_STOP = re.compile(r"""[{}"'/#]""")


@dataclass(frozen=True)
class Candidate:
    """Where an object may be: text[start:end]; ``closed`` when its braces balanced."""

    start: int
    end: int
    closed: bool


def _at_token_start(text: str, index: int, lower: int) -> bool:
    """True if a quote at ``index`` can open a string: only space back to one of {[,:( ."""
    j = index - 1
    while j >= lower and text[j] in " \t\r\n":
        j -= 1
    return j >= lower and text[j] in "{[,:("


def _skip_string(text: str, index: int, end: int) -> int:
    """Index just after the string opened at ``index`` (strict: any unescaped quote ends it)."""
    stop = _QUOTE_OR_BACKSLASH[text[index]]
    pos = index + 1
    while True:
        m = stop.search(text, pos, end)
        if m is None:
            return end
        if text[m.start()] == "\\":
            pos = m.start() + 2
        else:
            return m.end()


def scan_objects(text: str, start: int, end: int) -> list[Candidate]:
    """Brace-balanced objects in text[start:end], aware of strings and comments.

    Returns the outermost closed objects, the closed objects directly inside an opener that
    never closed (a stray "{" in prose must not hide the real object), and the first few
    unclosed openers as cut-off candidates.
    """
    stack: list[int] = []
    closed: list[tuple[int, int, int | None]] = []
    pos = start
    while pos < end:
        if not stack:
            pos = text.find("{", pos, end)
            if pos < 0:
                break
            stack.append(pos)
            pos += 1
            continue
        m = _SCANNER_STOP.search(text, pos, end)
        if m is None:
            break
        j = m.start()
        c = text[j]
        if c == "{":
            stack.append(j)
            pos = j + 1
        elif c == "}":
            opener = stack.pop()
            closed.append((opener, j + 1, stack[-1] if stack else None))
            pos = j + 1
        elif c == '"' or (c == "'" and _at_token_start(text, j, start)):
            pos = _skip_string(text, j, end)
        elif c == "#" or text.startswith("//", j):
            newline = text.find("\n", j, end)
            pos = end if newline < 0 else newline + 1
        elif text.startswith("/*", j):
            close = text.find("*/", j + 2, end)
            pos = end if close < 0 else close + 2
        else:
            pos = j + 1
    unclosed = set(stack)
    found = [
        Candidate(s, e, True) for s, e, parent in closed if parent is None or parent in unclosed
    ]
    found += [Candidate(s, end, False) for s in stack[:MAX_UNCLOSED_CANDIDATES]]
    return found


def find_candidates(text: str) -> list[Candidate]:
    """Object candidates in the whole reply ``text`` and inside each fenced block, in reply
    order."""
    found = {(c.start, c.end): c for c in scan_objects(text, 0, len(text))}
    for a, b in fenced_blocks(text):
        for c in scan_objects(text, a, b):
            found.setdefault((c.start, c.end), c)
    return sorted(found.values(), key=lambda c: (c.start, -c.end))
