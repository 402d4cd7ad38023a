"""Iterating over nodes: ``for item in node`` yields traced items.

``iter(node)`` returns a ``SeqIterable`` whose items are traced ``getitem`` nodes, so each
item stays connected to the container in the graph. Sets are first turned into a list and
dicts into their list of keys (both traced), as in Trace. ``node.items()`` returns a
``DictIterable`` of ``(key, value)`` node pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opto.trace import operators as ops
from opto.trace.errors import ExecutionError
from opto.trace.nodes import ExceptionNode, MessageNode, Node, node

__all__ = [
    "DictIterable",
    "ExceptionNode",
    "ExecutionError",
    "Node",
    "SeqIterable",
    "iterate",
    "node",
    "ops",
]

_SEQUENCE_TYPES = (list, tuple, str)


class SeqIterable:
    """Iterator over a node holding a sequence: each item is the traced ``x[i]``.

    Iterating it again (``iter()``) starts from the first item.

    Args:
        wrapped_list: a node whose data supports ``len`` and indexing.
    """

    def __init__(self, wrapped_list: Node) -> None:
        if not isinstance(wrapped_list, Node):
            raise TypeError(f"SeqIterable needs a node, got {type(wrapped_list).__name__}")
        self.wrapped_list = wrapped_list
        self._index = 0

    def __iter__(self) -> SeqIterable:
        self._index = 0
        return self

    def __next__(self) -> MessageNode:
        if self._index >= len(self.wrapped_list._data):
            raise StopIteration
        item = ops.getitem(self.wrapped_list, self._index)
        self._index += 1
        return item


class DictIterable:
    """Iterator of ``(key, value)`` node pairs over a node holding a dict.

    The traced list of keys is made once; each step yields the key node and the traced
    ``x[key]``.

    Args:
        wrapped_dict: a node whose data is a dict.
    """

    def __init__(self, wrapped_dict: Node) -> None:
        if not isinstance(wrapped_dict, Node):
            raise TypeError(f"DictIterable needs a node, got {type(wrapped_dict).__name__}")
        self.wrapped_dict = wrapped_dict
        self.keys = ops.keys(wrapped_dict)
        self._index = 0

    def __iter__(self) -> DictIterable:
        self._index = 0
        return self

    def __next__(self) -> tuple[MessageNode, MessageNode]:
        if self._index >= len(self.keys._data):
            raise StopIteration
        key = ops.getitem(self.keys, self._index)
        self._index += 1
        return key, ops.getitem(self.wrapped_dict, key)


def iterate(x: Any) -> SeqIterable:
    """What ``iter(node)`` returns for ``x``; a plain value is wrapped as a node first.

    Lists, tuples, strings and other indexable sequences (numpy arrays) give their items,
    dicts (mappings) the keys of the traced ``keys``, sets and other iterables the items of
    the traced ``to_list``. Anything else raises ``ExecutionError`` whose exception node
    (input: the node) holds a TypeError.
    """
    if not isinstance(x, Node):
        x = node(x)
    data = x._data
    if isinstance(data, (set, frozenset)):
        return SeqIterable(ops.to_list(x))
    if isinstance(data, (dict, Mapping)):
        return SeqIterable(ops.keys(x))
    if isinstance(data, _SEQUENCE_TYPES) or (
        hasattr(data, "__len__") and hasattr(data, "__getitem__")
    ):
        return SeqIterable(x)
    if hasattr(data, "__iter__"):  # other iterables (dict views ...) through a traced list
        return SeqIterable(ops.to_list(x))
    return _not_iterable(x)


def _not_iterable(x: Node) -> SeqIterable:
    error = TypeError(f"Cannot unpack non-iterable {type(x._data)} object")
    raise ExecutionError(
        ExceptionNode(
            error,
            inputs={"x": x},
            description="[iterate] Iterates over x.",
            name="exception_iterate",
            info={"fun_name": "iterate"},
        )
    )
