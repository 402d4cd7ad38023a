"""A node's fields: building a node without ``__init__``, linking it to its parents, copying
and pickling it.

``new_node`` is the one place that sets every field of a node built on the fast paths
(every traced op builds one), and copies start from it too. The copy and pickle methods
of Node live here, as ``NodeCopying``, because they only handle those fields.
"""

from __future__ import annotations

import copy
import weakref
from typing import Any, TypeVar

from opto.trace.abstract_node import USED_NODES, creation_order
from opto.trace.graph import _TRACING, GRAPH

N = TypeVar("N")

# The fields new_node sets; a copy takes every other slot from the original.
_BLANK_FIELDS = frozenset(
    (
        "_data",
        "_base",
        "_index",
        "_parents",
        "_children",
        "_feedback",
        "_backwarded",
        "_level",
        "_has_params",
        "_description",
        "_seq",
    )
)


def new_node(
    cls: type[N],
    data: Any,
    base: str,
    description: str,
    inputs: dict | None = None,
    op: Any = None,
    index: int | None = None,
) -> N:
    """A node of class ``cls`` built without ``__init__``: every traced operation's output,
    every wrapped raw value and every copy starts here, so this is the one place that sets
    all of a node's fields. (No keyword-only parameters: CPython's call specialisation,
    which this hot path needs, skips functions that have them.)

    Args:
        cls: Node or a subclass (MessageNode when ``inputs`` are given).
        data: the value.
        base: the base name; the next free index of it is reserved unless ``index`` is given.
        description: the full description, ``[op] text`` included.
        inputs: an operation's named input nodes (kept as given, not copied); they become
            the parents, when tracing is on. None for a node without inputs.
        op: the operator that made the node (its ``node_info()`` is the node's ``info``).
        index: the index of an existing name (a copy keeps its original's name).
    """
    if index is None:
        base, index = GRAPH.reserve(base)
    result = _new(cls)
    result._data = data
    result._base = base
    result._index = index
    result._children = None
    result._feedback = None
    result._backwarded = False
    result._description = description
    result._seq = next(creation_order)
    result._parents = []
    result._level = 0
    result._has_params = False
    if inputs is None:
        return result
    result._op = op
    if not _TRACING.get():
        result._inputs = {}
        return result
    result._inputs = inputs
    parents = list(inputs.values())
    used = USED_NODES.get()
    if used is not None:
        used.extend(parents)
    if len(parents) == 2:
        if parents[0] is parents[1]:
            del parents[1]
    elif len(parents) > 2:
        parents = list(dict.fromkeys(parents))
    link_parents(result, parents)
    return result


_new = object.__new__


def link_parents(child: Any, parents: list[Any]) -> None:
    """Make ``parents`` the parents of ``child``: level, parameter flag, weak child links.

    A parent's list of weak child references is pruned of dead ones whenever it doubles past
    the live count, so it stays bounded at amortised O(1) cost per link.
    """
    child._parents = parents
    level = 0
    has_params = bool(child._hidden)
    child_ref = weakref.ref(child)
    for parent in parents:
        refs = parent._children
        if refs is None:
            parent._children = [child_ref]
        else:
            refs.append(child_ref)
            if len(refs) > parent._child_limit:
                _prune_children(parent)
        if parent._level >= level:
            level = parent._level + 1
        if parent._has_params:
            has_params = True
    child._level = level
    child._has_params = has_params


def _prune_children(parent: Any) -> None:
    live = [ref for ref in parent._children if ref() is not None]
    parent._children = live
    parent._child_limit = max(64, 2 * len(live))


def copied_slots(cls: type) -> list[str]:
    """Every slot of ``cls`` and its bases, once each, in method resolution order."""
    slots: list[str] = []
    for klass in cls.__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if slot not in ("__dict__", "__weakref__") and slot not in slots:
                slots.append(slot)
    return slots


class NodeCopying:
    """``copy``, ``deepcopy``, ``detach`` and pickling of a node: the copy is cut from the
    graph (no parents, no children, no feedback) and keeps the rest."""

    __slots__ = ()

    def _copy_without_edges(self, data: Any, base: str, index: int) -> Any:
        duplicate = new_node(type(self), data, base, self._description, None, None, index)
        for slot in copied_slots(type(self)):
            if slot not in _BLANK_FIELDS:
                object.__setattr__(duplicate, slot, getattr(self, slot))
        if hasattr(self, "__dict__"):
            duplicate.__dict__.update(copy.deepcopy(self.__dict__))
        duplicate.__dict__.pop("_child_limit", None)
        duplicate._has_params = duplicate.is_parameter
        duplicate._info = copy.deepcopy(self._info)
        return duplicate

    def __deepcopy__(self, memo: dict) -> Any:
        """A copy with the same name and a deep copy of the data, cut from the graph."""
        duplicate = self._copy_without_edges(
            copy.deepcopy(self._data, memo), self._base, self._index
        )
        memo[id(self)] = duplicate
        return duplicate

    def __copy__(self) -> Any:
        return self._copy_without_edges(self._data, self._base, self._index)

    def detach(self) -> Any:
        """A new root node ``<py_name>_copy:k`` with a deep copy of the data."""
        base, index = GRAPH.reserve(f"{self.py_name}_copy")
        return self._copy_without_edges(copy.deepcopy(self._data), base, index)

    def __getstate__(self) -> dict:
        state = {slot: getattr(self, slot) for slot in copied_slots(type(self))}
        state["_children"] = None
        state["_feedback"] = None
        state["__dict__"] = dict(getattr(self, "__dict__", {}))
        return state

    def __setstate__(self, state: dict) -> None:
        extra = state.pop("__dict__", {})
        for key, value in state.items():
            object.__setattr__(self, key, value)
        self.__dict__.update(extra)
