"""What a reply says (``ParsedReply``), and the rules every reply format shares.

A reply is read into a ``Draft`` by one format's reader (json_reply.py, tagged_reply.py);
``Draft.finish`` applies the TERMINATE rule and freezes it. Names are normalised the same
way whatever the format, and ``guarded`` keeps the public parsers' promise never to raise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opto.optimizers.parsing.json_reader import Partial
from opto.utils.rendering import render_text

SENTINEL = "TERMINATE"

_FENCE_LINE = re.compile(r"\s*(?:```|~~~)[\w+.#-]*\s*")
_SENTINEL_DECORATION = " \t\r\n\f\v\"'`*.!"
_NAME_WRAPPERS = (("`", "`"), ('"', '"'), ("'", "'"), ("**", "**"), ("*", "*"), ("<", ">"))


@dataclass(frozen=True)
class ParsedReply:
    """What a reply says. ``error`` is None when nothing went wrong; it may be set while
    ``suggestion`` is not empty: the reply was damaged and only the certain part was kept.

    ``reasoning`` and ``answer`` are the reply's text fields (None when absent);
    ``suggestion`` maps variable names to suggested values; ``terminate`` says the reply
    was the TERMINATE sentinel; ``raw`` is the reply as received and ``format`` how it was
    read (``json``, ``xml`` or ``none``); ``truncated`` says it ended inside the object or
    a value; ``notes`` list the repairs and choices made, for logs.
    """

    reasoning: str | None
    answer: Any | None
    suggestion: dict[str, Any]
    terminate: bool
    error: str | None
    raw: str
    format: str  # "json", "xml" or "none"
    truncated: bool = False  # the reply ended inside the object / a <value>
    notes: tuple[str, ...] = ()  # repairs and choices made, for logs

    @property
    def ok(self) -> bool:
        """True when nothing went wrong reading the reply."""
        return self.error is None


def is_terminate(text: str) -> bool:
    """True when the whole reply ``text`` is the TERMINATE sentinel.

    Whitespace, code fence lines, quotes, backticks, asterisks and trailing ``.``/``!`` around
    it are ignored; the comparison ignores case. A reply that only *mentions* TERMINATE is not
    the sentinel.
    """
    if not isinstance(text, str):
        return False
    stripped = text.strip()
    return len(stripped) <= 200 and _bare(stripped).casefold() == SENTINEL.casefold()


def _bare(text: str) -> str:
    lines = [line for line in text.split("\n") if not _FENCE_LINE.fullmatch(line)]
    return "\n".join(lines).strip(_SENTINEL_DECORATION)


def ends_with_sentinel(text: str) -> bool:
    """True when the last non-empty line of ``text`` (fences and decoration ignored) is the
    sentinel."""
    end = len(text)
    while end > 0:
        start = text.rfind("\n", 0, end) + 1
        bare = _bare(text[start:end])
        if bare:
            return bare.casefold() == SENTINEL.casefold()
        end = start - 1
    return False


def normalise_name(name: object) -> str:
    """A suggested name without surrounding whitespace, backticks, quotes, ** or <>.

    The wrappers are peeled by moving two indices inward and the name is cut once at the
    end, so a name of a million backticks costs one pass, not a copy per layer.
    """
    text = name if isinstance(name, str) else render_text(name)
    start, end = 0, len(text)
    while True:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        for left, right in _NAME_WRAPPERS:
            if (
                end - start >= len(left) + len(right)
                and text.startswith(left, start, end)
                and text.endswith(right, start, end)
            ):
                start, end = start + len(left), end - len(right)
                break
        else:
            return text[start:end]


def _is_blank_code(name: str, value: object) -> bool:
    return "__code" in name and (value is None or (isinstance(value, str) and not value.strip()))


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun for messages: ``singular`` for one, else ``plural`` (default:
    ``singular`` + "s")."""
    return f"{n} {singular}" if n == 1 else f"{n} {plural or singular + 's'}"


@dataclass
class Draft:
    """A reply being read; ``finish`` applies the TERMINATE rule and freezes it.

    The fields are those of :class:`ParsedReply` (``format``, ``reasoning``, ``answer``,
    ``suggestion``, ``error``, ``truncated``, ``notes``) while they are filled in, plus
    ``sentinel``, a field that may hold the TERMINATE sentinel, and ``settled``, set when
    the reply answered so that an empty suggestion is not a failure.
    """

    format: str = "none"
    reasoning: str | None = None
    answer: Any = None
    suggestion: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    truncated: bool = False
    notes: list[str] = field(default_factory=list)
    sentinel: str | None = None  # a field that may hold the sentinel (e.g. "suggestion")
    settled: bool = False  # the reply answered; an empty suggestion is not a failure

    def add(self, entries: list[tuple[object, object]], clean: Callable[[Any], Any]) -> int:
        """Add the name/value pairs ``entries``, later ones winning, each value passed
        through ``clean``; returns how many were cut off (and left out)."""
        cut = 0
        for key, value in entries:
            if isinstance(value, Partial):
                cut += 1
                continue
            name = normalise_name(key)
            if not name:
                self.notes.append("skipped an entry with an empty name")
                continue
            value = clean(value)
            if _is_blank_code(name, value):
                self.notes.append(f"dropped blank {name}")
                continue
            if name in self.suggestion:
                self.notes.append(f"{name} was given more than once; the last value was used")
            self.suggestion[name] = value
        return cut

    def finish(self, raw: str) -> ParsedReply:
        """The ParsedReply of ``raw``, the reply text: an empty suggestion with the
        sentinel at the end of a field is TERMINATE, not an error."""
        terminate, error = False, self.error
        if not self.suggestion:
            texts = (self.reasoning, self.answer, self.sentinel, raw)
            if any(isinstance(t, str) and ends_with_sentinel(t) for t in texts):
                terminate, error = True, None
        return ParsedReply(
            reasoning=self.reasoning,
            answer=self.answer,
            suggestion=self.suggestion,
            terminate=terminate,
            error=error,
            raw=raw,
            format=self.format,
            truncated=self.truncated,
            notes=tuple(self.notes),
        )


def terminated(text: str) -> ParsedReply:
    """The ParsedReply of ``text``, a reply that is the TERMINATE sentinel."""
    return ParsedReply(None, None, {}, True, None, text, "none")


def guarded(text: object, parse: Callable[[str], ParsedReply]) -> ParsedReply:
    """Apply ``parse`` to ``text`` when it is a str; anything else, or a parser bug, becomes
    an error in the ParsedReply (parsing never raises)."""
    if not isinstance(text, str):
        return ParsedReply(
            None, None, {}, False, f"the reply is not text (got {type(text).__name__})", "", "none"
        )
    try:
        return parse(text)
    except Exception as exc:  # the contract is "never raises"; tests make sure this stays unused
        return ParsedReply(
            None,
            None,
            {},
            False,
            f"internal parser error ({type(exc).__name__}); please report this reply",
            text,
            "none",
        )
