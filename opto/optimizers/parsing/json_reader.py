"""Decode one JSON object despite the damage models do to it (and Python-literal dicts).

json_candidates.py finds where objects may be; this module reads one candidate, strictly
first and then forgivingly, in one linear pass without recursion past MAX_DEPTH, so no input
can make it backtrack or overflow the stack. ``loose_pairs`` is the last resort for a reply
whose objects cannot be read at all.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from opto.utils.errors import OptoError

MAX_DEPTH = 200  # deeper nesting is refused instead of recursing towards RecursionError
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")
_NUMBER_CHARS = re.compile(r"[-+0-9.eE]*")
_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_QUOTE_OR_BACKSLASH = {'"': re.compile(r'["\\]'), "'": re.compile(r"['\\]")}
_ESCAPE = re.compile(
    r"\\(?:u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
    r"|u([0-9a-fA-F]{4})|([\"\\/bfnrt'])|(\n))"
)
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
    "NaN": math.nan,
    "Infinity": math.inf,
}
_LOOSE_KEY = re.compile(r"""(["'])([^"'\\\n]{1,200})\1\s*:""")


class Partial:
    """A value the text ended inside of. A cut-off container keeps its complete members."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Partial({self.value!r})"


def complete(value: object) -> object:
    """The value without the member the text ended inside of.

    The reader returns as soon as the text ends, so only the last member of a ``Partial``
    container can itself be ``Partial``; every other member is complete.
    """
    if not isinstance(value, Partial):
        return value
    inner = value.value
    if isinstance(inner, dict):
        return {k: v for k, v in inner.items() if not isinstance(v, Partial)}
    if isinstance(inner, list):
        return [v for v in inner if not isinstance(v, Partial)]
    return inner


@dataclass(frozen=True)
class Decoded:
    """An object read from a reply: its ``value``; ``partial`` when the text ended inside
    it (what was complete is kept); ``repairs`` names what the forgiving reader had to fix
    (single quotes, trailing commas, ...), for the parse notes."""

    value: dict
    partial: bool
    repairs: tuple[str, ...]


def decode_escapes(raw: str) -> str:
    """``raw`` with JSON escapes decoded (plus \\' and line continuations); unknown ones like
    \\d stay as written (a regex in code must survive)."""
    if "\\" not in raw:
        return raw

    def one(m: re.Match) -> str:
        high, low, code, simple, newline = m.groups()
        if high:
            return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00))
        if code:
            return chr(int(code, 16))
        if simple:
            return _SIMPLE_ESCAPES.get(simple, simple)
        return "" if newline else m.group()

    return _ESCAPE.sub(one, raw)


def _only_space_from(text: str, pos: int) -> bool:
    m = _SPACE.match(text, pos)
    return (m.end() if m else pos) >= len(text)


class _Fail(OptoError):
    """The text is not an object this reader can make sense of."""


class _EndOfText(OptoError):
    """The text ended where a value should start."""


class _Reader:
    """A forgiving JSON / Python-literal reader that never recurses past MAX_DEPTH.

    Accepts single and triple quotes, raw newlines in strings, comments, trailing or missing
    commas, unquoted keys, Python literals and tuples. Keys, and every string when
    ``strict_strings`` is set, end at their first unescaped quote; other strings end at a
    quote followed by what may follow a string there (so ``"print("hi")"`` is one string).
    A value the text ends inside of comes back as ``Partial`` or raises ``_EndOfText``.
    """

    def __init__(self, text: str, pos: int = 0, strict_strings: bool = False) -> None:
        self.text = text
        self.pos = pos
        self.strict_strings = strict_strings
        self.repairs: set[str] = set()

    def skip_space(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            m = _SPACE.match(text, self.pos)
            if m:
                self.pos = m.end()
            elif text[self.pos] == "#" or text.startswith("//", self.pos):
                newline = text.find("\n", self.pos)
                self.pos = n if newline < 0 else newline + 1
                self.repairs.add("comments")
            elif text.startswith("/*", self.pos):
                close = text.find("*/", self.pos + 2)
                self.pos = n if close < 0 else close + 2
                self.repairs.add("comments")
            elif text[self.pos] == "/" and self.pos == n - 1:
                self.pos = n  # a comment cut after its first character
            else:
                return

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def value(self, depth: int, closers: str) -> object:
        if depth > MAX_DEPTH:
            raise _Fail
        self.skip_space()
        if self.at_end():
            raise _EndOfText
        text, pos = self.text, self.pos
        c = text[pos]
        if c == "{":
            return self.object(depth)
        if c == "[" or c == "(":
            return self.array(depth, "]" if c == "[" else ")")
        if c == '"' or c == "'":
            return self.string(None if self.strict_strings else closers)
        if c in "-+0123456789.":
            return self.number()
        m = _WORD.match(text, pos)
        if m is None:
            raise _Fail
        word = m.group()
        if word not in _LITERALS:
            raise _EndOfText if m.end() == len(text) else _Fail  # "tru" may be cut "true"
        self.pos = m.end()
        if word not in ("true", "false", "null"):
            self.repairs.add("Python literals")
        return _LITERALS[word]

    def number(self) -> object:
        """A number; one the text ends inside of (``12``, ``1.``, ``-Inf``) is not read."""
        text, pos = self.text, self.pos
        if text.startswith("-Infinity", pos):
            self.pos += 9
            return -math.inf
        if len(text) - pos < 9 and "-Infinity".startswith(text[pos:]):
            raise _EndOfText
        run_end = _NUMBER_CHARS.match(text, pos).end()
        if run_end == len(text):
            raise _EndOfText
        m = _NUMBER.match(text, pos)
        if m is None or (m.end() < run_end and text[m.end()] != "."):
            raise _Fail
        if m.end() < len(text) and (text[m.end()].isalnum() or text[m.end()] == "_"):
            raise _Fail
        self.pos = m.end()
        token = m.group()
        return float(token) if any(ch in token for ch in ".eE") else int(token)

    def object(self, depth: int) -> object:
        text = self.text
        self.pos += 1
        result: dict = {}
        while True:
            self.skip_space()
            if self.at_end():
                return Partial(result)
            c = text[self.pos]
            if c == "}":
                self.pos += 1
                return result
            if c == ",":
                self.note_extra_comma()
                continue
            key = self.key()
            if isinstance(key, Partial):
                return Partial(result)
            self.skip_space()
            if self.at_end():
                return Partial(result)
            if text[self.pos] != ":":
                raise _Fail
            self.pos += 1
            try:
                value = self.value(depth + 1, ",}")
            except _EndOfText:
                return Partial(result)
            result[key] = value
            if isinstance(value, Partial):
                return Partial(result)
            if not self.member_follows("}"):
                return Partial(result)

    def array(self, depth: int, close: str) -> object:
        text = self.text
        self.pos += 1
        items: list = []
        while True:
            self.skip_space()
            if self.at_end():
                return Partial(items)
            c = text[self.pos]
            if c == close:
                self.pos += 1
                return items
            if c == ",":
                self.note_extra_comma()
                continue
            try:
                item = self.value(depth + 1, "," + close)
            except _EndOfText:
                return Partial(items)
            items.append(item)
            if isinstance(item, Partial):
                return Partial(items)
            if not self.member_follows(close):
                return Partial(items)

    def note_extra_comma(self) -> None:
        self.pos += 1
        self.skip_space()
        if self.at_end() or self.text[self.pos] in ",}])":
            self.repairs.add("extra commas")

    def member_follows(self, close: str) -> bool:
        """After a member: accept ',' or the close, tolerate a missing comma; False at the end."""
        self.skip_space()
        if self.at_end():
            return False
        c = self.text[self.pos]
        if c == "," or c == close:
            return True
        if c in "\"'{[" or c.isalpha() or c == "_":
            self.repairs.add("missing commas")
            return True
        raise _Fail

    def key(self) -> object:
        text, pos = self.text, self.pos
        if text[pos] == '"' or text[pos] == "'":
            return self.string(None)
        m = _WORD.match(text, pos) or _NUMBER.match(text, pos)
        if m is None:
            raise _Fail
        self.pos = m.end()
        self.repairs.add("unquoted keys")
        return m.group()

    def string(self, closers: str | None) -> object:
        """A quoted string. ``closers``: what may follow its closing quote; None: strict."""
        text, n = self.text, len(self.text)
        quote = text[self.pos]
        if quote == "'":
            self.repairs.add("single quotes")
        if text.startswith(quote * 3, self.pos):
            return self.triple_quoted(quote)
        start = self.pos + 1
        stop = _QUOTE_OR_BACKSLASH[quote]
        pos = start
        while True:
            m = stop.search(text, pos)
            if m is None:
                self.pos = n
                return Partial(decode_escapes(text[start:]))
            j = m.start()
            if text[j] == "\\":
                pos = j + 2
                if pos >= n:
                    self.pos = n
                    return Partial(decode_escapes(text[start:j]))
            elif closers is None or self.string_ends(j + 1, closers):
                self.pos = j + 1
                value = decode_escapes(text[start:j])
                if closers is not None and _only_space_from(text, j + 1):
                    return Partial(value)  # a quote at the very end may not be the last one
                return value
            else:
                self.repairs.add("unescaped quotes")
                pos = j + 1

    def string_ends(self, after: int, closers: str) -> bool:
        """Does a quote followed by text[after:] close the string it is in?"""
        text = self.text
        m = _SPACE.match(text, after)
        nxt = m.end() if m else after
        if nxt >= len(text):
            return True
        c = text[nxt]
        if c in closers or text.startswith(("//", "/*"), nxt):
            return True
        # a missing comma before the next member, on the next line
        return c in "\"'" and "\n" in text[after:nxt]

    def triple_quoted(self, quote: str) -> object:
        self.repairs.add("triple-quoted strings")
        start = self.pos + 3
        close = self.text.find(quote * 3, start)
        if close < 0:
            self.pos = len(self.text)
            return Partial(decode_escapes(self.text[start:]))
        self.pos = close + 3
        return decode_escapes(self.text[start:close])


_READ_ERRORS = (_Fail, _EndOfText, ValueError, RecursionError, OverflowError)


def decode_object(chunk: str, closed: bool = True) -> Decoded | None:
    """Decode ``chunk``, one object candidate, strictly first, then forgivingly. ``closed``
    says its braces balanced in the reply; an unclosed candidate may be read as partial.

    A candidate whose braces balanced but that the forgiving reader sees as cut off, or
    that it finishes before the candidate's end, was misread: it is rejected, not guessed.
    """
    try:
        value = json.loads(chunk, strict=False)
    except (ValueError, RecursionError):
        pass
    else:
        return Decoded(value, False, ()) if isinstance(value, dict) else None
    reader = _Reader(chunk)
    try:
        value = reader.value(0, "")
    except _READ_ERRORS:
        return None
    partial = isinstance(value, Partial)
    inner = value.value if isinstance(value, Partial) else value
    if not isinstance(inner, dict):
        return None
    if closed:
        reader.skip_space()
        if partial or not reader.at_end():
            return None
    return Decoded(inner, partial, tuple(sorted(reader.repairs)))


def loose_pairs(text: str) -> list[tuple[str, object]]:
    """Last resort: every ``"name": value`` of ``text`` with a complete scalar value, in
    reply order.

    Strings end at their first unescaped quote, so two pairs are never glued into one value.
    Objects and lists are not read as values: the pairs inside them are found one by one.
    """
    pairs = []
    pos = 0
    while True:
        m = _LOOSE_KEY.search(text, pos)
        if m is None:
            return pairs
        reader = _Reader(text, m.end(), strict_strings=True)
        reader.skip_space()
        if reader.at_end() or text[reader.pos] in "{[(":
            pos = m.end()
            continue
        try:
            value = reader.value(0, ",}")
        except _READ_ERRORS:
            pos = m.end()
            continue
        if isinstance(value, Partial):
            pos = m.end()
            continue
        pairs.append((m.group(2), value))
        pos = reader.pos
