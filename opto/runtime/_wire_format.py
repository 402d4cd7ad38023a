"""The format of the sandbox child's answer, and its encoder (stdlib only; runs in the child).

The child answers with one value in this format instead of a pickle, because its answer may
be forged by the code it ran, and the parent must decode it within explicit bounds: a pickle
can make the decoder recurse a million levels deep while hashing (a crash of the parent) or
rebuild a set of colliding keys in quadratic time. This format has no references, no
memo and no opcodes with side effects; every value is a tag byte followed by its payload:

====  ==========================================================================
tag   payload
====  ==========================================================================
N T F None, True, False
i     int that fits in 64 bits: 8 bytes, little-endian, signed
I     any other int: u32 length, then that many bytes, little-endian, signed
f     float: 8 bytes IEEE 754, little-endian
c     complex: two floats
s b B str (UTF-8, lone surrogates kept), bytes, bytearray: u32 length, then the bytes
l t   list, tuple: u32 count, then the items
S Z   set, frozenset: u32 count, then the items
d     dict: u32 count, then key, value, key, value...
q r   list of 64-bit ints, list of floats: u32 count, then the machine's array bytes
w     list of str: u32 count, the code-point length of each (machine int64), then one
      UTF-8 text holding them all (u32 length, bytes)
x     a standard type (`EXTENDED`): its name (text), then one value of its parts
g     a class or function by name: module (text), qualified name (text)
R     an object of another class as ``__reduce_ex__`` describes it: the callable (module,
      qualified name), then four values: arguments, state, list items, dict items
====  ==========================================================================

Texts inside tags are a u32 length and UTF-8. The machine's byte order is used for the two
array tags (both ends run on the same machine). A message is ``MAGIC`` then one value;
``MAX_DEPTH`` bounds the nesting of containers, which also refuses values that contain
themselves. Shared references are written once per occurrence, so they arrive as copies.
"""

import struct
import sys
from array import array

MAGIC = b"OPTOW1"
MAX_DEPTH = 100
# The standard types written with the ``x`` tag, by "module.QualName".
EXTENDED = (
    "collections.OrderedDict",
    "collections.Counter",
    "collections.defaultdict",
    "collections.deque",
    "datetime.date",
    "datetime.datetime",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
    "decimal.Decimal",
    "builtins.slice",
)
_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")
_F64 = struct.Struct("<d")
_C128 = struct.Struct("<dd")
_LOW, _HIGH = -(2**63), 2**63
_FAST_LIST_MIN = 8
_EXTENDED_SET = frozenset(EXTENDED)


class EncodeError(ValueError):
    """The value cannot be written in this format (too deep, too large, not nameable)."""


class AnswerTooLarge(EncodeError):
    """The encoded value would exceed the size limit."""


def encode(value, max_bytes: int | None = None) -> bytes:
    """``MAGIC`` and ``value`` in this format; raise ``EncodeError`` when it cannot be written.

    Iterative (no recursion), so a deep value fails with a clear error rather than a
    ``RecursionError``; ``max_bytes`` stops early instead of building an answer that would
    be refused anyway.
    """
    out = bytearray(MAGIC)
    stack = [iter((value,))]
    while stack:
        for item in stack[-1]:
            children = _put(out, item)
            if max_bytes is not None and len(out) > max_bytes:
                raise AnswerTooLarge(f"the answer is larger than {max_bytes} bytes")
            if children is not None:
                if len(stack) > MAX_DEPTH:
                    raise EncodeError(
                        f"it is nested more than {MAX_DEPTH} levels deep (or contains itself)"
                    )
                stack.append(children)
                break
        else:
            stack.pop()
    return bytes(out)


def _text(out: bytearray, text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    out += _U32.pack(len(data))
    out += data


def _put(out: bytearray, item):
    """Write ``item`` (or the header of a container); return an iterator over its children."""
    kind = type(item)
    if item is None:
        out += b"N"
    elif kind is bool:
        out += b"T" if item else b"F"
    elif kind is int:
        if _LOW <= item < _HIGH:
            out += b"i"
            out += _I64.pack(item)
        else:
            data = item.to_bytes(item.bit_length() // 8 + 1, "little", signed=True)
            out += b"I"
            out += _U32.pack(len(data))
            out += data
    elif kind is float:
        out += b"f"
        out += _F64.pack(item)
    elif kind is str:
        out += b"s"
        _text(out, item)
    elif kind is bytes or kind is bytearray:
        out += b"b" if kind is bytes else b"B"
        out += _U32.pack(len(item))
        out += item
    elif kind is list:
        if len(item) >= _FAST_LIST_MIN and _put_uniform_list(out, item):
            return None
        out += b"l"
        out += _U32.pack(len(item))
        return iter(item)
    elif kind is tuple:
        out += b"t"
        out += _U32.pack(len(item))
        return iter(item)
    elif kind is dict:
        out += b"d"
        out += _U32.pack(len(item))
        return (part for pair in item.items() for part in pair)
    elif kind is set or kind is frozenset:
        out += b"S" if kind is set else b"Z"
        out += _U32.pack(len(item))
        return iter(item)
    elif kind is complex:
        out += b"c"
        out += _C128.pack(item.real, item.imag)
    else:
        return _put_object(out, item, kind)
    return None


def _put_uniform_list(out: bytearray, items: list) -> bool:
    """Write a list of only ints, floats or strs in one block (C speed); False if it is not."""
    kinds = set(map(type, items))
    if kinds == {int}:
        try:
            block = array("q", items)
        except OverflowError:
            return False
        out += b"q"
    elif kinds == {float}:
        block = array("d", items)
        out += b"r"
    elif kinds == {str}:
        out += b"w"
        out += _U32.pack(len(items))
        out += array("q", map(len, items)).tobytes()
        _text(out, "".join(items))
        return True
    else:
        return False
    out += _U32.pack(len(items))
    out += block.tobytes()
    return True


def _put_object(out: bytearray, item, kind):
    name = f"{kind.__module__}.{kind.__qualname__}"
    if name in _EXTENDED_SET:
        out += b"x"
        _text(out, name)
        return iter((_parts(item, name),))
    if isinstance(item, type) or (callable(item) and hasattr(item, "__qualname__")):
        out += b"g"
        _put_reference(out, item)
        return None
    import copyreg

    reducer = copyreg.dispatch_table.get(kind)
    reduced = reducer(item) if reducer is not None else item.__reduce_ex__(4)
    if isinstance(reduced, str):
        out += b"g"
        _put_reference(out, item, reduced)
        return None
    if not isinstance(reduced, tuple) or not 2 <= len(reduced) <= 6:
        raise EncodeError(f"{name}.__reduce_ex__ returned {type(reduced).__name__}")
    function, arguments, state, list_items, dict_items = (tuple(reduced) + (None,) * 3)[:5]
    out += b"R"
    _put_reference(out, function)
    list_items = None if list_items is None else list(list_items)
    dict_items = None if dict_items is None else [tuple(pair) for pair in dict_items]
    return iter((arguments, state, list_items, dict_items))


def _parts(item, name: str):
    """The plain parts the parent rebuilds a standard type from (see ``_wire.EXTENDED``)."""
    if name in ("collections.OrderedDict", "collections.Counter"):
        return dict(item)
    if name == "collections.defaultdict":
        return (item.default_factory, dict(item))
    if name == "collections.deque":
        return (list(item), item.maxlen)
    if name == "datetime.date":
        return (item.year, item.month, item.day)
    if name == "datetime.datetime":
        return (item.year, item.month, item.day, item.hour, item.minute, item.second,
                item.microsecond, item.tzinfo, item.fold)  # fmt: skip
    if name == "datetime.time":
        return (item.hour, item.minute, item.second, item.microsecond, item.tzinfo, item.fold)
    if name == "datetime.timedelta":
        return (item.days, item.seconds, item.microseconds)
    if name == "datetime.timezone":
        return item.__getinitargs__()
    if name == "decimal.Decimal":
        return str(item)
    return (item.start, item.stop, item.step)  # builtins.slice


def _put_reference(out: bytearray, target, name: str | None = None) -> None:
    """Write a class or function by module and qualified name, checked to import back."""
    module = getattr(target, "__module__", None)
    qualname = name or getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise EncodeError(f"{target!r} has no importable name")
    found = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not target:
        raise EncodeError(f"{module}.{qualname} cannot be found by its name (a local object?)")
    _text(out, module)
    _text(out, qualname)
