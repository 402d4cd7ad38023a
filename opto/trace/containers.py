"""Containers of nodes and parameters, and helpers that look inside nested values.

``ParameterContainer`` is what ``Module``, ``Seq`` and ``Map`` share: a way to list the
trainable parameters held in attributes, items or keys, in a stable order and once each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from opto.trace.nodes import Node, ParameterNode

_BOUND_PREFIX = "__opto_bound__"


class NodeContainer:
    """Marker: an object whose attributes may hold nodes (``to_data`` looks inside it)."""


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

    def named_parameters(self, prefix: str = "") -> dict[str, ParameterNode]:
        """``{"attr.sub.name": parameter}``: stable paths used by save/load."""
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
        names.update(name for name, value in vars(klass).items() if _is_bundle(value))
    return sorted(name for name in names if not name.startswith(_BOUND_PREFIX))


def _is_bundle(value: Any) -> bool:
    from opto.trace.bundle import FunModule

    return isinstance(value, FunModule)


def _attribute(obj: object, name: str) -> Any:
    instance_dict = getattr(obj, "__dict__", {})
    if name in instance_dict:
        return instance_dict[name]
    return getattr(obj, name)


def _as_parameter_entry(value: Any) -> ParameterNode | ParameterContainer | None:
    from opto.trace.bundle import BoundFunModule, FunModule

    if isinstance(value, BoundFunModule):
        value = value.module
    if isinstance(value, FunModule):
        return value.parameter if value.trainable else None
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
    """A list whose parameters (and parameters of nested containers) are exposed."""

    def __init__(self, *items: Any) -> None:
        if (
            len(items) == 1
            and isinstance(items[0], (list, tuple))
            and not isinstance(items[0], Seq)
        ):
            items = tuple(items[0])
        super().__init__(items)

    def parameters_dict(self) -> dict[str, ParameterNode | ParameterContainer]:
        found = {}
        for index, item in enumerate(self):
            entry = _as_parameter_entry(item)
            if entry is not None:
                found[str(index)] = entry
        return found


class Map(dict, ParameterContainer):
    """A dict whose parameter values and parameter keys are exposed."""

    def __init__(self, mapping: Mapping | None = None, **kwargs: Any) -> None:
        super().__init__(mapping or {}, **kwargs)

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
    """The value with every node replaced by its data, through lists, tuples, dicts, sets.

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
            if isinstance(value, Node):
                setattr(obj, key, _to_data(value, memo))
        copied = obj
    else:
        copied = obj
    memo[id(obj)] = copied
    return copied


def contains_node(obj: Any) -> bool:
    """Whether a node appears anywhere inside a list, tuple, dict or set.

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
    """Every node inside a nested list, tuple, dict or set (depth first, in order)."""
    if isinstance(obj, Node):
        yield obj
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for item in obj:
            yield from nodes_in(item)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from nodes_in(key)
            yield from nodes_in(value)


def apply_op(op: Callable, output: Any, *args: Any, **kwargs: Any) -> Any:
    """Apply ``op`` element-wise over containers of nodes, shaped like ``output``.

    Lists/tuples are matched by index, dicts by key, NodeContainers by attribute; arguments
    that are not containers are broadcast. Leaves are combined with ``op(*leaves)``.
    """
    inputs = [*args, *kwargs.values()]
    if isinstance(output, (list, tuple)):
        for value in inputs:
            if isinstance(value, (list, tuple)) and len(value) != len(output):
                raise ValueError(f"apply_op: length {len(value)} does not match {len(output)}")
        items = [
            apply_op(
                op,
                item,
                *(a[i] if isinstance(a, (list, tuple)) else a for a in args),
                **{k: v[i] if isinstance(v, (list, tuple)) else v for k, v in kwargs.items()},
            )
            for i, item in enumerate(output)
        ]
        return type(output)(items) if isinstance(output, tuple) else items
    if isinstance(output, dict):
        return {
            key: apply_op(
                op,
                value,
                *(a[key] if isinstance(a, dict) else a for a in args),
                **{k: v[key] if isinstance(v, dict) else v for k, v in kwargs.items()},
            )
            for key, value in output.items()
        }
    if isinstance(output, NodeContainer) and not isinstance(output, Node):
        for attribute, value in vars(output).items():
            leaves = [getattr(a, attribute) if isinstance(a, NodeContainer) else a for a in args]
            named = {
                k: getattr(v, attribute) if isinstance(v, NodeContainer) else v
                for k, v in kwargs.items()
            }
            setattr(output, attribute, apply_op(op, value, *leaves, **named))
        return output
    return op(*args, **kwargs)
