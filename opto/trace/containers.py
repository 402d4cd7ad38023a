"""Containers of nodes and parameters, and helpers that look inside nested values.

``ParameterContainer`` is what ``Module``, ``Seq`` and ``Map`` share: a way to list the
trainable parameters held in attributes, items or keys, in a stable order and once each.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from opto.trace.nodes import Node, ParameterNode

RESERVED_PREFIX = "__TRACE_RESERVED_"
"""Attributes the library keeps on an instance (a method's bundle, the node of ``self``);
they are not the object's state: parameter listings, ``apply_op`` and ``to_data`` skip them."""


class NodeContainer:
    """Marker: an object whose attributes may hold nodes (``to_data`` looks inside it)."""


class BundledFunction:
    """What containers know of a bundled function (``opto.trace.bundle.FunModule``) or method.

    ``parameter`` is its ``__code`` ParameterNode when its code is trainable, else None.
    """

    parameter: ParameterNode | None = None


def trainable_method(method: Any) -> bool:
    """Whether ``method`` is a bundled function or method whose code is trainable."""
    return isinstance(method, BundledFunction) and method.parameter is not None


class ParameterContainer(NodeContainer):
    """An object that exposes the parameters it holds."""

    def parameters_dict(self) -> dict[str, ParameterNode | ParameterContainer]:
        """``{attribute: parameter or nested container}`` in attribute-name order."""
        found: dict[str, ParameterNode | ParameterContainer] = {}
        for name in _attribute_names(self):
            value = _attribute(self, name)
            entry = _as_parameter_entry(value)
            if entry is not None:
                found[name] = entry
        return found

    def parameters(self) -> list[ParameterNode]:
        """Every parameter held, nested containers included, once each, in a stable order."""
        return _flatten(self.parameters_dict().values())

    def copy(self) -> ParameterContainer:
        """A deep copy of the structure that shares the parameters with this one.

        Per-call state on the copy is independent; parameter values (and their updates) are
        the same objects. Seq and Map keep the list and dict meaning of ``copy``.
        """
        memo = {id(parameter): parameter for parameter in self.parameters()}
        return copy.deepcopy(self, memo)

    def named_parameters(self, prefix: str = "") -> dict[str, ParameterNode]:
        """``{"attr.sub.name": parameter}``: stable paths used by save/load, each prefixed by
        ``prefix`` (used when a container recurses into the ones it holds)."""
        named: dict[str, ParameterNode] = {}
        seen: set[int] = set()
        for key, value in self.parameters_dict().items():
            path = f"{prefix}{key}"
            if isinstance(value, ParameterNode):
                if id(value) not in seen:
                    seen.add(id(value))
                    named[path] = value
            else:
                for sub_path, parameter in value.named_parameters(f"{path}.").items():
                    if id(parameter) not in seen:
                        seen.add(id(parameter))
                        named[sub_path] = parameter
        return named


def _attribute_names(obj: object) -> list[str]:
    names = set(getattr(obj, "__dict__", {}))
    for klass in type(obj).__mro__:
        names.update(
            name for name, value in vars(klass).items() if isinstance(value, BundledFunction)
        )
    return sorted(name for name in names if not name.startswith(RESERVED_PREFIX))


def _attribute(obj: object, name: str) -> Any:
    instance_dict = getattr(obj, "__dict__", {})
    if name in instance_dict:
        return instance_dict[name]
    return getattr(obj, name)


def _as_parameter_entry(value: Any) -> ParameterNode | ParameterContainer | None:
    if isinstance(value, BundledFunction):
        return value.parameter
    if isinstance(value, ParameterNode):
        return value
    if isinstance(value, ParameterContainer):
        return value
    return None


def _flatten(entries: Iterable[ParameterNode | ParameterContainer]) -> list[ParameterNode]:
    result: dict[int, ParameterNode] = {}
    for entry in entries:
        members = [entry] if isinstance(entry, ParameterNode) else entry.parameters()
        for parameter in members:
            result.setdefault(id(parameter), parameter)
    return list(result.values())


class Seq(list, ParameterContainer):
    """A list whose parameters (and parameters of nested containers) are exposed.

    ``Seq(a, b, c)`` holds the three items; ``Seq(sequence)`` (one argument that is a
    sequence, but not a node) holds the sequence's items, as Trace's ``Seq`` does.
    """

    def __init__(self, *items: Any) -> None:
        if len(items) == 1 and _is_sequence(items[0]):
            items = tuple(items[0])
        super().__init__(items)

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        return Seq(item) if isinstance(index, slice) else item

    def copy(self) -> Seq:
        """A new Seq holding the same items (the list meaning of ``copy``)."""
        return Seq(self)

    def parameters_dict(self) -> dict[str, ParameterNode | ParameterContainer]:
        found = {}
        for index, item in enumerate(self):
            entry = _as_parameter_entry(item)
            if entry is not None:
                found[str(index)] = entry
        return found


def _is_sequence(value: Any) -> bool:
    return (
        not isinstance(value, Node) and hasattr(value, "__len__") and hasattr(value, "__getitem__")
    )


class Map(dict, ParameterContainer):
    """A dict whose parameter values and parameter keys are exposed.

    ``mapping`` and keyword arguments fill it as they fill a ``dict``.
    """

    def __init__(self, mapping: Mapping | None = None, **kwargs: Any) -> None:
        super().__init__(mapping or {}, **kwargs)

    def copy(self) -> Map:
        """A new Map with the same keys and values (the dict meaning of ``copy``)."""
        return Map(self)

    def parameters_dict(self) -> dict[str, ParameterNode | ParameterContainer]:
        found: dict[str, ParameterNode | ParameterContainer] = {}
        for key, value in self.items():
            label = key.py_name if isinstance(key, Node) else str(key)
            if isinstance(key, ParameterNode):
                found[f"key:{label}"] = key
            entry = _as_parameter_entry(value)
            if entry is not None:
                found[label] = entry
        return found


def to_data(obj: Any) -> Any:
    """``obj`` with every node replaced by its data, through lists, tuples, dicts, sets.

    Containers are copied once each, so a value that holds one list many times, or holds
    itself, is copied in linear time with the same sharing (as ``copy.deepcopy`` does).
    """
    return _to_data(obj, {})


def _to_data(obj: Any, memo: dict[int, Any]) -> Any:
    if isinstance(obj, Node):
        return _to_data(obj._data, memo)
    if not isinstance(obj, (list, tuple, set, frozenset, dict, NodeContainer)):
        return obj
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, list):
        copied = [] if type(obj) is list else None
        if copied is not None:
            memo[id(obj)] = copied
            copied.extend(_to_data(item, memo) for item in obj)
            return copied
        copied = type(obj)([_to_data(item, memo) for item in obj])
    elif isinstance(obj, (tuple, set, frozenset)):
        items = [_to_data(item, memo) for item in obj]
        if id(obj) in memo:  # reached again through a list or dict inside it
            return memo[id(obj)]
        copied = type(obj)(items) if type(obj) in (tuple, set, frozenset) else type(obj)(*items)
    elif isinstance(obj, dict):
        if type(obj) is dict:
            copied = {}
            memo[id(obj)] = copied
            copied.update((_to_data(k, memo), _to_data(v, memo)) for k, v in obj.items())
            return copied
        copied = type(obj)({_to_data(k, memo): _to_data(v, memo) for k, v in obj.items()})
    elif not isinstance(obj, ParameterContainer):
        for key, value in vars(obj).items():
            if isinstance(value, Node) and not key.startswith(RESERVED_PREFIX):
                setattr(obj, key, _to_data(value, memo))
        copied = obj
    else:
        copied = obj
    memo[id(obj)] = copied
    return copied


def contains_node(obj: Any) -> bool:
    """Whether a node appears anywhere inside ``obj``, through lists, tuples, dicts and sets.

    Each container is looked at once, without recursion: an output that holds the same list
    many times, or holds itself, or is nested thousands deep is checked in linear time.
    """
    seen: set[int] = set()
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            return True
        if isinstance(item, (list, tuple, set, frozenset, dict)) and id(item) not in seen:
            seen.add(id(item))
            stack.extend(item.keys() if isinstance(item, dict) else item)
            if isinstance(item, dict):
                stack.extend(item.values())
    return False


def nodes_in(obj: Any) -> Iterator[Node]:
    """Every node inside ``obj``, a nested list, tuple, dict or set (depth first, in order)."""
    if isinstance(obj, Node):
        yield obj
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for item in obj:
            yield from nodes_in(item)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from nodes_in(key)
            yield from nodes_in(value)
