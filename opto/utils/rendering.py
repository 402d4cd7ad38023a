"""Values as text for prompts and feedback: bounded in size, depth and time, never raising.

Outputs are whatever a workflow returned, so their text is hostile input. ``str()`` of an int
over 4,300 digits raises, a list holding one inner list twice, sixty levels deep, has 2**60
elements to print, a list may contain itself, and a user ``__str__`` may raise. Every place
opto turns a value into text for an LLM or a feedback message goes through this module.

For ordinary values the text is exactly ``str(value)`` (``repr`` inside containers, as
Python prints them), so prompts stay byte-identical to Trace's. What differs:

- ``list``, ``tuple``, ``dict``, ``set`` and ``frozenset`` (and subclasses that keep their
  printing) are walked here, not by Python: at most ``max_chars`` characters are produced,
  containers deeper than ``max_depth`` show as ``[...]``, a container inside itself as
  Python shows it (``[...]``);
- an int too long to write in decimal shows as ``<int of about 5,000 digits: 1.2346e+4999>``;
- memory addresses are removed (``<Foo object>``), so the same program gives the same text;
- an object whose ``str``/``repr`` raises shows as ``<Foo object (str() failed: ...)>``;
- a ``str`` is returned as it is (it is text already; prompt budgets shorten long ones).

Other objects' own ``__str__``/``__repr__`` is called once and its text cut to the limit;
opto cannot bound the time user code takes there.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from opto.utils.errors import OptoError

MAX_CHARS = 100_000
"""Default limit on the text of one value (a ``str`` value is never cut)."""

MAX_DEPTH = 100
"""Default limit on the nesting of containers that are shown."""

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")
_DECIMAL_BITS = 10_000  # ints up to here are written exactly (about 3,000 digits)
_BRACKETS = {list: ("[", "]"), tuple: ("(", ")"), set: ("{", "}"), frozenset: ("{", "}")}


def render_text(value: Any, *, max_chars: int = MAX_CHARS, max_depth: int = MAX_DEPTH) -> str:
    """``str(value)``, bounded: see the module documentation.

    ``max_chars`` limits the text (a ``str`` value is returned whole); ``max_depth`` limits
    how deep nested containers are shown.
    """
    if type(value) is str:
        return value
    return _Writer(max_chars, max_depth).top(value, quote=False)


def render_repr(value: Any, *, max_chars: int = MAX_CHARS, max_depth: int = MAX_DEPTH) -> str:
    """``repr(value)``, bounded like :func:`render_text` by ``max_chars`` characters and
    ``max_depth`` levels of nesting (strings are quoted and cut too)."""
    return _Writer(max_chars, max_depth).top(value, quote=True)


def render_json(value: Any, *, indent: int | None = 4) -> str:
    """``json.dumps(value, indent=indent, default=str)`` as optimizers show their memory, but
    never raising: values JSON cannot write (a container inside itself, an int too long for
    text, nesting too deep) fall back to their bounded text."""
    try:
        return json.dumps(value, indent=indent, default=render_text)
    except (TypeError, ValueError, RecursionError):
        return render_repr(value)


class _Full(OptoError):
    """The text reached its limit; the walk stops."""


class _Writer:
    """Builds the text of one value, counting characters as it goes."""

    def __init__(self, max_chars: int, max_depth: int) -> None:
        self.max_chars = max(int(max_chars), 16)
        self.max_depth = max(int(max_depth), 1)
        self.parts: list[str] = []
        self.size = 0
        self.open: set[int] = set()  # containers being written (for "contains itself")

    def top(self, value: Any, quote: bool) -> str:
        try:
            if _walked(value):
                self.container(value, 0)
            elif quote or type(value) is bytes:
                self.element(value, 0)
            else:
                self.emit(_own_text(value, str))
        except _Full:
            shown = "".join(self.parts)
            return f"{shown}...(cut at {self.max_chars:,} characters)"
        except RecursionError:  # a user __repr__ recursing without end, below the walk
            return f"<{_type_name(value)} object (too deeply nested to show)>"
        return "".join(self.parts)

    def emit(self, text: str) -> None:
        room = self.max_chars - self.size
        if len(text) > room:
            self.parts.append(text[:room])
            self.size = self.max_chars
            raise _Full
        self.parts.append(text)
        self.size += len(text)

    def element(self, value: Any, depth: int) -> None:
        """A value inside a container: as ``repr`` shows it."""
        kind = type(value)
        if kind is str or kind is bytes:
            room = self.max_chars - self.size
            self.emit(repr(value[: room + 1]) if len(value) > room else repr(value))
        elif kind is int:
            self.emit(_int_text(value))
        elif kind in (float, bool, type(None)):
            self.emit(repr(value))
        elif _walked(value):
            self.container(value, depth)
        else:
            self.emit(_own_text(value, repr))

    def container(self, value: Any, depth: int) -> None:
        kind = _base_container(value)
        left, right = ("{", "}") if kind is dict else _BRACKETS[kind]
        if id(value) in self.open or depth >= self.max_depth:
            self.emit(f"{left}...{right}")
            return
        if kind in (set, frozenset) and not value:
            self.emit(f"{type(value).__name__}()")
            return
        wrapped = kind in (set, frozenset) and type(value) is not set  # as Python prints them
        if wrapped:
            self.emit(f"{type(value).__name__}(")
        self.emit(left)
        self.open.add(id(value))
        try:
            if kind is dict:
                for index, (key, item) in enumerate(value.items()):
                    if index:
                        self.emit(", ")
                    self.element(key, depth + 1)
                    self.emit(": ")
                    self.element(item, depth + 1)
            else:
                for index, item in enumerate(value):
                    if index:
                        self.emit(", ")
                    self.element(item, depth + 1)
                if kind is tuple and len(value) == 1:
                    self.emit(",")
        finally:
            self.open.discard(id(value))
        self.emit(right)
        if wrapped:
            self.emit(")")


def _base_container(value: Any) -> type:
    for kind in (dict, list, tuple, set, frozenset):
        if isinstance(value, kind):
            return kind
    raise TypeError(type(value).__name__)


def _walked(value: Any) -> bool:
    """Containers whose printing is Python's own (so opto may print them itself)."""
    kind = type(value)
    for base in (list, tuple, dict, set, frozenset):
        if isinstance(value, base):
            return kind.__repr__ is base.__repr__ and kind.__str__ in (base.__str__, object.__str__)
    return False


def _int_text(value: int) -> str:
    """An int in decimal, or its size and leading digits when it is too long for that."""
    bits = value.bit_length()
    if bits <= _DECIMAL_BITS:
        try:
            return int.__repr__(value)
        except ValueError:  # the process lowered the conversion limit
            pass
    top = abs(value) >> max(bits - 64, 0)
    exponent10 = math.log10(top) + max(bits - 64, 0) * math.log10(2)
    whole = math.floor(exponent10)
    sign = "-" if value < 0 else ""
    return f"<int of about {whole + 1:,} digits: {sign}{10 ** (exponent10 - whole):.4f}e+{whole}>"


def _own_text(value: Any, how: Any) -> str:
    """The object's own ``str``/``repr`` without memory addresses; never raises."""
    kind = type(value)
    if kind is int:
        return _int_text(value)
    if kind.__str__ is object.__str__ and kind.__repr__ is object.__repr__:
        return f"<{_type_name(value)} object>"
    try:
        text = how(value)
        if not isinstance(text, str):
            raise TypeError(f"{how.__name__}() returned {type(text).__name__}")
    except Exception as error:  # user code: any failure becomes text
        return f"<{_type_name(value)} object ({how.__name__}() failed: {_failure(error)})>"
    return _ADDRESS.sub(">", text) if " at 0x" in text else text


def _failure(error: BaseException) -> str:
    try:
        detail = str(error)
    except Exception:
        detail = ""
    detail = detail if len(detail) <= 200 else detail[:200] + "..."
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _type_name(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"
