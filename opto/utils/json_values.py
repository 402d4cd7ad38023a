"""Parameter values as JSON, exactly, and a precise reason for the values JSON cannot hold.

Module files, trainer checkpoints and snapshots store parameter values as JSON. JSON has no
tuple, so a tuple is written as ``{"__opto_tuple__": [...]}``. A user dict that happens to
look like such a tag (one of its keys starts with ``__opto_``) is itself wrapped, as
``{"__opto_dict__": {...}}``, so that a dict never comes back as a tuple: the encoding is
unambiguous. Files written before dicts were wrapped read back as before.

What cannot be stored is refused with a sentence that names the problem (``inf is not a finite
number``), because the same reason is shown to an LLM whose suggestion was refused.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 100
"""Containers nested deeper than this are refused: storing, reading back and showing them
would need unbounded recursion."""

MAX_ITEMS = 10_000_000
"""Values that would be written out with more items than this are refused (a list holding
one inner list twice, sixty levels deep, is small in memory and 2**60 items as JSON)."""

MAX_INT_BITS = 13_000
"""Ints wider than this (about 3,900 decimal digits) are refused: Python will not write an
int over 4,300 digits as text by default, so such a value could not be saved."""

TUPLE_TAG = "__opto_tuple__"
DICT_TAG = "__opto_dict__"
_TAG_PREFIX = "__opto_"


class UnstorableValue(ValueError):
    """A value opto's JSON files cannot hold; the message says why, for a person or an LLM."""


class DamagedValue(ValueError):
    """Stored JSON that is not the encoding of any value (a damaged or hand-edited file)."""


def storage_problem(value: Any, *, check_types: bool = True) -> str | None:
    """Why ``value`` cannot be stored as JSON, or None when it can.

    The reason is a noun phrase for "the value holds ...": ``"inf, which is not a finite
    number"``, ``"a builtins.set, which JSON cannot hold; use a list"``.

    ``check_types=False`` checks only the numbers (no NaN, infinity or oversized int) and the
    shape (depth, size, no container inside itself), for values of types a parameter may hold
    outside any file (a set). Linear in the number of distinct objects: a list that holds the
    same inner list twice, sixty levels deep, is measured, not expanded.
    """
    measured: dict[int, tuple[int, int]] = {}  # container id -> (nesting depth, stored items)
    open_containers: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, finished = stack.pop()
        if check_types and isinstance(item, (set, frozenset)):
            kind = type(item)
            return f"a {kind.__module__}.{kind.__qualname__}, which JSON cannot hold; use a list"
        if not isinstance(item, _CONTAINERS):
            problem = _scalar_problem(item, check_types)
            if problem is not None:
                return problem
            continue
        key = id(item)
        members = list(item.values()) if isinstance(item, dict) else list(item)
        if finished:
            open_containers.discard(key)
            inner = [measured[id(m)] for m in members if isinstance(m, _CONTAINERS)]
            depth = 1 + max((d for d, _ in inner), default=0)
            size = len(members) + sum(s for _, s in inner)
            if depth > MAX_DEPTH:
                return f"containers nested deeper than {MAX_DEPTH} levels"
            if size > MAX_ITEMS:
                return f"more than {MAX_ITEMS:,} items once written out"
            measured[key] = (depth, size)
            continue
        if key in measured:
            continue
        if key in open_containers:
            return "a container that contains itself"
        if check_types and isinstance(item, dict):
            bad_key = next((k for k in item if not isinstance(k, str)), _NO_KEY)
            if bad_key is not _NO_KEY:
                return f"a dict key that is not a string (a {type(bad_key).__name__})"
        open_containers.add(key)
        stack.append((item, True))
        stack.extend((member, False) for member in members)
    return None


_CONTAINERS = (list, tuple, dict, set, frozenset)
_NO_KEY = object()


def _scalar_problem(item: Any, check_types: bool) -> str | None:
    if isinstance(item, float):
        return None if math.isfinite(item) else f"{float(item)}, which is not a finite number"
    if isinstance(item, int):
        if item.bit_length() > MAX_INT_BITS:
            return f"an int of about {int(item.bit_length() * 0.30103):,} digits, too long to write"
        return None
    if item is None or isinstance(item, (str, list, tuple, dict)) or not check_types:
        return None
    kind = type(item)
    return (
        f"a {kind.__module__}.{kind.__qualname__}, which JSON cannot hold; use str, numbers, "
        "bools, None, lists, tuples or dicts with string keys"
    )


def encode_value(value: Any) -> Any:
    """``value`` as JSON-ready data (tuples and tag-like dicts wrapped); ``UnstorableValue``
    if it cannot be stored."""
    problem = storage_problem(value)
    if problem is not None:
        raise UnstorableValue(problem)
    return _encode(value)


def _encode(value: Any) -> Any:
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, tuple):
        return {TUPLE_TAG: [_encode(item) for item in value]}
    if isinstance(value, dict):
        encoded = {key: _encode(item) for key, item in value.items()}
        if any(key.startswith(_TAG_PREFIX) for key in value):
            return {DICT_TAG: encoded}
        return encoded
    return value


def decode_value(data: Any) -> Any:
    """The value ``encode_value`` was given; ``DamagedValue`` for data no value encodes to
    (a bad tag, a non-finite number, too deep)."""
    return _decode(data, 0)


def _decode(data: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise DamagedValue(f"the value is nested deeper than {MAX_DEPTH} levels")
    if isinstance(data, list):
        return [_decode(item, depth + 1) for item in data]
    if isinstance(data, dict):
        if len(data) == 1 and TUPLE_TAG in data:
            items = data[TUPLE_TAG]
            if not isinstance(items, list):
                raise DamagedValue(f"{TUPLE_TAG} must hold a list, not {type(items).__name__}")
            return tuple(_decode(item, depth + 1) for item in items)
        if len(data) == 1 and DICT_TAG in data:
            inner = data[DICT_TAG]
            if not isinstance(inner, dict):
                raise DamagedValue(f"{DICT_TAG} must hold an object, not {type(inner).__name__}")
            return {key: _decode(item, depth + 1) for key, item in inner.items()}
        return {key: _decode(item, depth + 1) for key, item in data.items()}
    problem = _scalar_problem(data, True)
    if problem is not None:
        raise DamagedValue(f"the file holds {problem}")
    return data
