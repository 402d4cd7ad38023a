"""Decoding what the sandbox child sends back, without trusting it.

Everything the child writes may have been forged by the code it ran. Its answer is in the
format of ``_wire_format`` (not a pickle) and is decoded here with explicit bounds:

- **depth**: containers nest at most ``MAX_DEPTH`` levels, so nothing the parent later does
  with the value (hashing, comparing, printing, copying, saving) can exhaust the C stack;
- **size**: the caller bounds the bytes read; every count is checked against the bytes left,
  and nothing is allocated from a count before its items have arrived;
- **work**: decoding is iterative and linear in the size of the answer. Sets and dict keys
  are hashed once each before they are inserted, and more than ``MAX_SHARED_HASH`` keys with
  the same hash are refused: colliding keys (e.g. integers that are multiples of 2**61-1) are
  what turns building a set into quadratic work, and real results do not have them. A
  ``deadline`` is checked as items are read;
- **names**: classes and functions are only resolved from an explicit allow-list, chosen so
  that no allowed callable turns a small answer into a large allocation or computation.

Any violation raises ``WireError`` (a ``ValueError``) saying what was wrong.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import importlib
import struct
import sys
import time
from array import array
from collections.abc import Iterable
from itertools import accumulate

from opto.runtime._wire_format import MAGIC, MAX_DEPTH

MAX_SHARED_HASH = 4
_CHECK_TIME_EVERY = 4096
_I64, _U32 = struct.Struct("<q"), struct.Struct("<I")
_F64, _C128 = struct.Struct("<d"), struct.Struct("<dd")

# Callables safe to call with any arguments found in a bounded message.
_BASE_GLOBALS = frozenset(
    {
        ("builtins", "complex"),
        ("builtins", "slice"),
        ("builtins", "list"),
        ("builtins", "tuple"),
        ("builtins", "dict"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "int"),
        ("builtins", "float"),
        ("builtins", "str"),
        ("builtins", "bool"),
        ("collections", "OrderedDict"),
        ("collections", "deque"),
        ("collections", "Counter"),
        ("collections", "defaultdict"),
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("decimal", "Decimal"),
    }
)
# What naming "numpy.ndarray" as a result type admits. Opt-in: a forged array header can make
# the parent allocate a large (object) array before its contents are checked.
_NUMPY_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }
)
# ``object.__reduce_ex__`` describes instances of plain classes with these two helpers; they
# are accepted only with a class that was itself resolved from the allow-list.
_NEW_OBJECT = ("copyreg", "__newobj__")
_NEW_OBJECT_EX = ("copyreg", "__newobj_ex__")


class WireError(ValueError):
    """The answer is malformed, exceeds a bound, or names something not allowed."""


class RefusedGlobal(WireError):
    """The answer names a class or function that is not on the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        self.qualified_name = f"{module}.{name}"
        super().__init__(f"{self.qualified_name} is not an allowed type")


class DecodeTimeout(WireError):
    """Decoding the answer did not finish before the deadline."""


def allowed_globals(extra: Iterable[str] = ()) -> frozenset[tuple[str, str]]:
    """The default allow-list plus ``extra`` entries written as ``"module.QualName"``.

    Classes from modules the parent has not imported are imported when first met; only name
    classes whose import and ``__setstate__`` you trust.
    """
    pairs = set(_BASE_GLOBALS)
    for dotted in extra:
        module, _, name = dotted.rpartition(".")
        if not module:
            raise ValueError(f"result type {dotted!r} must be written as 'module.Name'")
        pairs.add((module, name))
        if dotted == "numpy.ndarray":
            pairs |= _NUMPY_GLOBALS
    return frozenset(pairs)


def decode(data: bytes, allowed: frozenset[tuple[str, str]] = frozenset(), deadline=None):
    """The value in ``data``, resolving only ``allowed`` names, finished before ``deadline``
    (a ``time.monotonic()`` value, or None); raise ``WireError`` otherwise."""
    if not isinstance(data, bytes) or not data.startswith(MAGIC):
        raise WireError("it is not in the sandbox's answer format")
    try:
        return _Decoder(data, allowed, deadline).run()
    except WireError:
        raise
    except (struct.error, IndexError) as error:
        raise WireError(f"it is truncated or malformed ({error})") from None
    except Exception as error:  # e.g. an allowed class refusing the arguments it was given
        raise WireError(f"it holds an invalid value ({type(error).__name__}: {error})") from None


class _Decoder:
    def __init__(self, data: bytes, allowed, deadline) -> None:
        self.data = data
        self.allowed = allowed
        self.deadline = deadline
        self.resolved_ids: set[int] = set()

    def run(self):
        data, end, pos = self.data, len(self.data), len(MAGIC)
        int64, float64, uint32 = _I64.unpack_from, _F64.unpack_from, _U32.unpack_from
        stack: list[list] = []  # [tag, items still expected, items, extra]
        budget = _CHECK_TIME_EVERY
        while True:
            budget -= 1
            if not budget:
                budget = _CHECK_TIME_EVERY
                self._check_time()
            tag = data[pos]
            pos += 1
            # The common scalars are inlined: this loop is the cost of a large answer.
            if tag == 0x69:  # i
                value = int64(data, pos)[0]
                pos += 8
            elif tag == 0x73:  # s
                (size,) = uint32(data, pos)
                pos += 4
                if size > end - pos:
                    raise WireError("it is truncated")
                value = data[pos : pos + size].decode("utf-8", "surrogatepass")
                pos += size
            elif tag == 0x66:  # f
                value = float64(data, pos)[0]
                pos += 8
            elif tag in b"ltSZd":
                (count,) = uint32(data, pos)
                pos += 4
                if tag == 0x64:  # d
                    count *= 2
                if count > end - pos:
                    raise WireError(f"a container claims {count} items in {end - pos} bytes")
                if count:
                    self._push(stack, [tag, count, [], None])
                    continue
                value = self._build([tag, 0, [], None])
            elif tag == 0x78:  # x
                name, pos = self._text(pos)
                if name not in _EXTENDED:
                    raise WireError(f"unknown standard type {name[:100]!r}")
                self._push(stack, [tag, 1, [], name])
                continue
            elif tag == 0x52:  # R
                function, pos = self._reference(pos, reducer=True)
                self._push(stack, [tag, 4, [], function])
                continue
            else:
                value, pos = self._scalar(chr(tag), pos)
            while stack:
                frame = stack[-1]
                frame[2].append(value)
                frame[1] -= 1
                if frame[1]:
                    break
                stack.pop()
                tag, _, items, _ = frame
                if tag == 0x6C:  # l
                    value = items
                elif tag == 0x74:  # t
                    value = tuple(items)
                elif tag == 0x64 and len(items) <= 2 * MAX_SHARED_HASH:  # a small dict
                    value = dict(zip(items[0::2], items[1::2], strict=True))
                else:
                    value = self._build(frame)
            else:
                if pos != end:
                    raise WireError(f"{end - pos} bytes follow the answer")
                return value

    def _push(self, stack: list, frame: list) -> None:
        if len(stack) >= MAX_DEPTH:
            raise WireError(f"it is nested more than {MAX_DEPTH} levels deep")
        stack.append(frame)

    def _check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DecodeTimeout("decoding it did not finish within the time limit")

    def _bytes(self, pos: int) -> tuple[bytes, int]:
        (size,) = _U32.unpack_from(self.data, pos)
        pos += 4
        if size > len(self.data) - pos:
            raise WireError("it is truncated")
        return self.data[pos : pos + size], pos + size

    def _text(self, pos: int) -> tuple[str, int]:
        raw, pos = self._bytes(pos)
        return raw.decode("utf-8", "surrogatepass"), pos

    def _scalar(self, tag: str, pos: int):
        data = self.data
        if tag == "N":
            return None, pos
        if tag in "TF":
            return tag == "T", pos
        if tag == "i":
            return _I64.unpack_from(data, pos)[0], pos + 8
        if tag == "f":
            return _F64.unpack_from(data, pos)[0], pos + 8
        if tag == "c":
            return complex(*_C128.unpack_from(data, pos)), pos + 16
        if tag == "s":
            return self._text(pos)
        if tag in "bBI":
            raw, pos = self._bytes(pos)
            if tag == "I":
                return int.from_bytes(raw, "little", signed=True), pos
            return (raw if tag == "b" else bytearray(raw)), pos
        if tag in "qr":
            (count,) = _U32.unpack_from(data, pos)
            raw = data[pos + 4 : pos + 4 + 8 * count]
            if len(raw) != 8 * count:
                raise WireError("it is truncated")
            return array("q" if tag == "q" else "d", raw).tolist(), pos + 4 + 8 * count
        if tag == "w":
            return self._strings(pos)
        if tag == "g":
            return self._reference(pos, reducer=False)
        raise WireError(f"unknown tag {tag!r} at byte {pos - 1}")

    def _strings(self, pos: int) -> tuple[list[str], int]:
        (count,) = _U32.unpack_from(self.data, pos)
        raw = self.data[pos + 4 : pos + 4 + 8 * count]
        if len(raw) != 8 * count:
            raise WireError("it is truncated")
        lengths = array("q", raw)
        text, pos = self._text(pos + 4 + 8 * count)
        if count and (min(lengths) < 0 or sum(lengths) != len(text)):
            raise WireError("a list of strings has inconsistent lengths")
        ends = list(accumulate(lengths))
        return [text[end - size : end] for size, end in zip(lengths, ends, strict=True)], pos

    def _reference(self, pos: int, reducer: bool):
        module, pos = self._text(pos)
        name, pos = self._text(pos)
        key = (module, name)
        if reducer and key in (_NEW_OBJECT, _NEW_OBJECT_EX):
            return (_NEW_OBJECT if key == _NEW_OBJECT else _NEW_OBJECT_EX), pos
        if key not in self.allowed or (
            module.partition(".")[0] == "numpy" and "numpy" not in sys.modules
        ):
            raise RefusedGlobal(module, name)
        found = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
        self.resolved_ids.add(id(found))
        return found, pos

    def _build(self, frame: list):
        tag, _, items, extra = frame
        if tag == 0x6C:  # l
            return items
        if tag == 0x74:  # t
            return tuple(items)
        if tag == 0x53:  # S
            return set(self._keys(items))
        if tag == 0x5A:  # Z
            return frozenset(self._keys(items))
        if tag == 0x64:  # d
            keys = self._keys(items[0::2])
            return dict(zip(keys, items[1::2], strict=True))
        if tag == 0x78:  # x
            return _EXTENDED[extra](items[0])
        return self._reduced(extra, *items)

    def _keys(self, keys: list) -> list:
        """``keys``, refused when more than ``MAX_SHARED_HASH`` of them share a hash value."""
        if len(keys) <= MAX_SHARED_HASH:
            return keys
        counts: dict[int, int] = {}
        for key in keys:
            digest = hash(key)
            seen = counts.get(digest, 0) + 1
            if seen > MAX_SHARED_HASH:
                raise WireError(
                    f"more than {MAX_SHARED_HASH} of its set or dict keys have the same hash "
                    "value, which makes rebuilding them quadratic; real results do not"
                )
            counts[digest] = seen
        return keys

    def _reduced(self, function, arguments, state, list_items, dict_items):
        if not isinstance(arguments, tuple):
            raise WireError("an object's arguments are not a tuple")
        new_object = function is _NEW_OBJECT or function is _NEW_OBJECT_EX
        kind = arguments[0] if new_object and arguments else function
        if new_object and (not isinstance(kind, type) or id(kind) not in self.resolved_ids):
            raise WireError("an object names a class that was not resolved by name")
        given = arguments[1:] if new_object else arguments
        if isinstance(kind, type) and issubclass(kind, (set, frozenset, dict)) and given:
            raise WireError(f"a {kind.__name__} must not get its items as arguments")
        if dict_items:
            self._keys([pair[0] for pair in dict_items])
        if new_object:
            if function is _NEW_OBJECT:
                made = kind.__new__(kind, *arguments[1:])
            else:
                _, positional, keywords = arguments
                made = kind.__new__(kind, *positional, **keywords)
        else:
            made = function(*arguments)
        if state is not None:
            _set_state(made, state)
        if list_items:
            made.extend(list_items)
        for key, value in dict_items or ():
            made[key] = value
        return made


def _set_state(made, state) -> None:
    """Apply ``state`` as unpickling would: ``__setstate__``, else the instance dict and slots."""
    setter = getattr(made, "__setstate__", None)
    if setter is not None:
        setter(state)
        return
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    for mapping in (state, slots):
        if mapping is not None and not (
            isinstance(mapping, dict) and all(type(key) is str for key in mapping)
        ):
            raise WireError("an object's state is not a mapping of attribute names")
    if state:
        made.__dict__.update(state)
    for name, value in (slots or {}).items():
        setattr(made, name, value)


def _parts(value, *kinds) -> tuple:
    """``value`` as a tuple whose items are instances of ``kinds``, one each."""
    if type(value) is not tuple or len(value) != len(kinds):
        raise WireError(f"expected {len(kinds)} parts, got {type(value).__name__}")
    for item, kind in zip(value, kinds, strict=True):
        if not isinstance(item, kind):
            raise WireError(f"a part is {type(item).__name__}, not {kind}")
    return value


def _mapping(value) -> dict:
    if type(value) is not dict:
        raise WireError(f"expected a dict, got {type(value).__name__}")
    return value


def _default_dict(value) -> collections.defaultdict:
    factory, mapping = _parts(value, object, dict)
    return collections.defaultdict(factory, mapping)


def _date_time(value) -> datetime.datetime:
    *fields, zone, fold = _parts(value, *(int,) * 7, _ZONE, int)
    return datetime.datetime(*fields, tzinfo=zone, fold=fold)


def _time(value) -> datetime.time:
    *fields, zone, fold = _parts(value, *(int,) * 4, _ZONE, int)
    return datetime.time(*fields, tzinfo=zone, fold=fold)


def _time_zone(value) -> datetime.timezone:
    if type(value) is tuple and len(value) == 1:
        return datetime.timezone(*_parts(value, datetime.timedelta))
    return datetime.timezone(*_parts(value, datetime.timedelta, str))


def _decimal(value) -> decimal.Decimal:
    if type(value) is not str:
        raise WireError(f"a Decimal is written as text, not {type(value).__name__}")
    return decimal.Decimal(value)


_ZONE = (datetime.tzinfo, type(None))
# How each type of ``_wire_format.EXTENDED`` is rebuilt from its parts.
_EXTENDED = {
    "collections.OrderedDict": lambda value: collections.OrderedDict(_mapping(value)),
    "collections.Counter": lambda value: collections.Counter(_mapping(value)),
    "collections.defaultdict": _default_dict,
    "collections.deque": lambda value: collections.deque(*_parts(value, list, (int, type(None)))),
    "datetime.date": lambda value: datetime.date(*_parts(value, int, int, int)),
    "datetime.datetime": _date_time,
    "datetime.time": _time,
    "datetime.timedelta": lambda value: datetime.timedelta(*_parts(value, int, int, int)),
    "datetime.timezone": _time_zone,
    "decimal.Decimal": _decimal,
    "builtins.slice": lambda value: slice(*_parts(value, object, object, object)),
}
