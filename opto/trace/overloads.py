"""Python's operators and the str/list/dict helpers on Node, each forwarding to a traced op.

The methods are defined here, apart from the node's bookkeeping in nodes.py, and attached to
``Node`` when ``opto.trace`` is imported (operators.py needs Node, so Node cannot inherit
them without an import cycle).
"""

from __future__ import annotations

from typing import Any

from opto.trace import operators as ops
from opto.trace.iterators import DictIterable, SeqIterable, iterate
from opto.trace.nodes import MessageNode, Node


def _data_of(value: Any) -> Any:
    return value._data if isinstance(value, Node) else value


def _require_str(node: Node, method: str) -> None:
    if not isinstance(node._data, str):
        raise AttributeError(f"{type(node._data).__name__} object has no attribute {method!r}")


class NodeOverloads:
    """Traced operator methods of Node."""

    # -- arithmetic ------------------------------------------------------------------------

    def __add__(self, other: Any) -> MessageNode:
        if isinstance(self._data, str):
            return ops.concat(self, other)
        return ops.add(self, other)

    def __radd__(self, other: Any) -> MessageNode:
        if isinstance(_data_of(other), str):
            return ops.concat(other, self)
        return ops.add(other, self)

    def __sub__(self, other: Any) -> MessageNode:
        return ops.subtract(self, other)

    def __rsub__(self, other: Any) -> MessageNode:
        return ops.subtract(other, self)

    def __mul__(self, other: Any) -> MessageNode:
        return ops.multiply(self, other)

    def __rmul__(self, other: Any) -> MessageNode:
        return ops.multiply(other, self)

    def __floordiv__(self, other: Any) -> MessageNode:
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> MessageNode:
        return ops.floor_divide(other, self)

    def __truediv__(self, other: Any) -> MessageNode:
        return ops.divide(self, other)

    def __rtruediv__(self, other: Any) -> MessageNode:
        return ops.divide(other, self)

    __div__ = __truediv__
    __rdiv__ = __rtruediv__

    def __mod__(self, other: Any) -> MessageNode:
        return ops.mod(self, other)

    def __rmod__(self, other: Any) -> MessageNode:
        return ops.mod(other, self)

    def __divmod__(self, other: Any) -> MessageNode:
        return ops.node_divmod(self, other)

    def __rdivmod__(self, other: Any) -> MessageNode:
        return ops.node_divmod(other, self)

    def __pow__(self, other: Any) -> MessageNode:
        return ops.power(self, other)

    def __rpow__(self, other: Any) -> MessageNode:
        return ops.power(other, self)

    def __lshift__(self, other: Any) -> MessageNode:
        return ops.lshift(self, other)

    def __rlshift__(self, other: Any) -> MessageNode:
        return ops.lshift(other, self)

    def __rshift__(self, other: Any) -> MessageNode:
        return ops.rshift(self, other)

    def __rrshift__(self, other: Any) -> MessageNode:
        return ops.rshift(other, self)

    def __and__(self, other: Any) -> MessageNode:
        return ops.and_(self, other)

    def __rand__(self, other: Any) -> MessageNode:
        return ops.and_(other, self)

    def __or__(self, other: Any) -> MessageNode:
        return ops.or_(self, other)

    def __ror__(self, other: Any) -> MessageNode:
        return ops.or_(other, self)

    def __xor__(self, other: Any) -> MessageNode:
        return ops.xor(self, other)

    def __rxor__(self, other: Any) -> MessageNode:
        return ops.xor(other, self)

    # -- unary -----------------------------------------------------------------------------

    def __pos__(self) -> MessageNode:
        return ops.pos(self)

    def __neg__(self) -> MessageNode:
        return ops.neg(self)

    def __abs__(self) -> MessageNode:
        return ops.abs(self)

    def __invert__(self) -> MessageNode:
        return ops.invert(self)

    def __round__(self, n: Any = None) -> MessageNode:
        return ops.round(self) if n is None else ops.round(self, n)

    def __floor__(self) -> MessageNode:
        return ops.floor(self)

    def __ceil__(self) -> MessageNode:
        return ops.ceil(self)

    def __trunc__(self) -> MessageNode:
        return ops.trunc(self)

    # -- comparisons (== stays untraced; see eq/neq) ---------------------------------------

    def __lt__(self, other: Any) -> MessageNode:
        return ops.lt(self, other)

    def __le__(self, other: Any) -> MessageNode:
        return ops.le(self, other)

    def __gt__(self, other: Any) -> MessageNode:
        return ops.gt(self, other)

    def __ge__(self, other: Any) -> MessageNode:
        return ops.ge(self, other)

    def eq(self, other: Any) -> MessageNode:
        """Traced ``self == other``, as a node (``==`` itself compares nodes by identity)."""
        return ops.eq(self, other)

    def neq(self, other: Any) -> MessageNode:
        """Traced ``self != other``, as a node."""
        return ops.neq(self, other)

    # -- containers ------------------------------------------------------------------------

    def __getitem__(self, key: Any) -> MessageNode:
        return ops.getitem(self, key)

    def __iter__(self) -> SeqIterable:
        """Traced items: ``x[i]`` for sequences, the keys of a dict, the items of a set."""
        return iterate(self)

    def len(self) -> MessageNode:
        """Traced length (``len(node)`` gives a plain int)."""
        return ops.len_(self)

    def items(self) -> DictIterable:
        """``(key, value)`` node pairs of a dict node."""
        return DictIterable(self)

    def keys(self) -> MessageNode:
        """Traced ``dict.keys()``, as a list node."""
        return ops.keys(self)

    def values(self) -> MessageNode:
        """Traced ``dict.values()``, as a list node."""
        return ops.values(self)

    def get(self, key: Any, default: Any = None) -> MessageNode:
        """Traced ``dict.get``: ``x.get(key, default)``."""
        return ops.get(self, key, default)

    def pop(self, index: Any = -1, /) -> MessageNode:
        """The item ``pop(index)`` would remove; the node's data is not changed."""
        return ops.pop(self, index)

    def append(self, item: Any) -> MessageNode:
        """A new list node with ``item`` appended; the node's data is not changed."""
        return ops.list_append(self, item)

    # -- objects and calls -----------------------------------------------------------------

    def clone(self) -> MessageNode:
        """Traced copy (``[clone]`` op, deep-copies the data)."""
        return ops.clone(self)

    def getattr(self, key: Any) -> MessageNode:
        """Traced attribute access: the attribute ``key`` of the data, as a node."""
        return ops.node_getattr(self, key)

    def call(self, fun: str, *args: Any, **kwargs: Any) -> MessageNode:
        """Traced method call of the method named ``fun``: ``node.call("upper")`` is
        ``node.data.upper()``.

        As in Trace, the method receives the arguments as nodes (plain values are wrapped).
        """
        return ops.call(self.getattr(fun), *args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> MessageNode:
        """Traced call of the data; the function receives the arguments as nodes."""
        return ops.call(self, *args, **kwargs)

    # -- strings ---------------------------------------------------------------------------

    def format(self, *args: Any, **kwargs: Any) -> MessageNode:
        """Traced ``str.format``: each argument becomes an input of the output."""
        _require_str(self, "format")
        return ops.format(self, *args, **kwargs)

    def capitalize(self) -> MessageNode:
        """Traced ``str.capitalize``."""
        _require_str(self, "capitalize")
        return ops.capitalize(self)

    def lower(self) -> MessageNode:
        """Traced ``str.lower``."""
        _require_str(self, "lower")
        return ops.lower(self)

    def upper(self) -> MessageNode:
        """Traced ``str.upper``."""
        _require_str(self, "upper")
        return ops.upper(self)

    def swapcase(self) -> MessageNode:
        """Traced ``str.swapcase``."""
        _require_str(self, "swapcase")
        return ops.swapcase(self)

    def title(self) -> MessageNode:
        """Traced ``str.title``."""
        _require_str(self, "title")
        return ops.title(self)

    def split(self, sep: Any = None, maxsplit: Any = -1) -> MessageNode:
        """Traced ``str.split(sep, maxsplit)``, as a list node."""
        _require_str(self, "split")
        if sep is None and maxsplit == -1:
            return ops.split(self)
        return ops.split(self, sep, maxsplit)

    def strip(self, chars: Any = None) -> MessageNode:
        """Traced ``str.strip(chars)``."""
        _require_str(self, "strip")
        return ops.strip(self) if chars is None else ops.strip(self, chars)

    def replace(self, old: Any, new: Any, count: Any = -1) -> MessageNode:
        """Traced ``str.replace(old, new, count)``."""
        _require_str(self, "replace")
        if count == -1:
            return ops.replace(self, old, new)
        return ops.replace(self, old, new, count)

    def join(self, seq: Any) -> MessageNode:
        """``sep.join(seq)``: each item of ``seq`` becomes an input."""
        _require_str(self, "join")
        return ops.join(self, *list(seq))


def install(cls: type[Node]) -> None:
    """Attach the traced methods to ``cls`` (done once for Node when opto.trace loads)."""
    for name, member in vars(NodeOverloads).items():
        if name in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
            continue
        setattr(cls, name, member)


install(Node)
