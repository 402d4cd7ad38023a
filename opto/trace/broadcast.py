"""Nested containers of nodes: converting their leaves, and broadcasting an operator over them.

Containers are tuples, lists, dicts (values), sets and NodeContainers (attributes); anything
else is a leaf.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from opto.trace.containers import RESERVED_PREFIX, NodeContainer
from opto.trace.nodes import Node, node

__all__ = [
    "Node",
    "NodeContainer",
    "apply_op",
    "detach_inputs",
    "recursive_conversion",
    "wrap_node",
]


def recursive_conversion(
    true_func: Callable[[Node], Any], false_func: Callable[[Any], Any]
) -> Callable[[Any], Any]:
    """A converter mapping every node with ``true_func`` and every other leaf with ``false_func``.

    The converter rebuilds tuples, lists, dicts (values only) and sets; a NodeContainer is
    shallow-copied and each of its attributes converted on the copy, so the input is never
    changed.
    """

    def convert(obj: Any) -> Any:
        if isinstance(obj, Node):
            return true_func(obj)
        if isinstance(obj, tuple):
            return tuple(convert(item) for item in obj)
        if isinstance(obj, list):
            return [convert(item) for item in obj]
        if isinstance(obj, dict):
            return {key: convert(value) for key, value in obj.items()}
        if isinstance(obj, (set, frozenset)):
            return {convert(item) for item in obj}
        if isinstance(obj, NodeContainer):
            duplicate = copy.copy(obj)
            for attribute, value in _state(obj):
                setattr(duplicate, attribute, convert(value))
            return duplicate
        return false_func(obj)

    return convert


def wrap_node(obj: Any) -> Any:
    """``obj`` with every leaf that is not a node wrapped with ``node()`` (nodes are kept)."""
    return recursive_conversion(lambda item: item, node)(obj)


def detach_inputs(obj: Any) -> Any:
    """``obj`` with every node replaced by ``node.detach()`` (a copy cut from the graph)."""
    return recursive_conversion(lambda item: item.detach(), lambda item: item)(obj)


_CONTAINER_KINDS = (list, tuple, dict, NodeContainer)


def _state(container: NodeContainer) -> list[tuple[str, Any]]:
    """A NodeContainer's attributes, without those the library keeps on it."""
    return [(k, v) for k, v in vars(container).items() if not k.startswith(RESERVED_PREFIX)]


def _kind(value: Any) -> type | None:
    for kind in _CONTAINER_KINDS:
        if isinstance(value, kind):
            return kind
    return None


def apply_op(op: Callable, output: Any, *args: Any, **kwargs: Any) -> Any:
    """Apply ``op`` element-wise over containers of nodes shaped like ``output``.

    ``output`` is the template, and it is filled in: list items, dict values and
    NodeContainer attributes are replaced by the results (tuples, which cannot change, are
    rebuilt). Each argument is a node, broadcast to every element, or a container of the same
    kind as ``output``, matched by index, key or attribute. Where every argument is a node, the
    result is ``op(*args, **kwargs)``; where some argument is a plain value, the template's
    element is kept as it is.

    Raises:
        TypeError: an argument is neither a node nor a container of the template's kind.
        ValueError: a list or tuple argument does not have the template's length.
        KeyError: a dict argument lacks one of the template's keys.
    """
    operands = [*args, *kwargs.values()]
    if all(isinstance(value, Node) for value in operands):
        return op(*args, **kwargs)
    kind = _kind(output)
    if kind is None:
        if any(_kind(value) is not None for value in operands):
            raise TypeError(
                f"apply_op: the template is a {type(output).__name__}, not a container, but an "
                "argument is a container"
            )
        return output
    for value in operands:
        if not isinstance(value, Node) and _kind(value) is not kind:
            raise TypeError(
                f"apply_op: an argument of type {type(value).__name__} matches neither the "
                f"template ({type(output).__name__}) nor a node to broadcast"
            )
        if kind in (list, tuple) and not isinstance(value, Node) and len(value) != len(output):
            raise ValueError(f"apply_op: length {len(value)} does not match {len(output)}")
    if kind is NodeContainer:
        for attribute, value in _state(output):
            result = _apply_at(op, value, args, kwargs, lambda c, a=attribute: getattr(c, a))
            setattr(output, attribute, result)
        return output
    positions = output.keys() if kind is dict else range(len(output))
    results = {
        position: _apply_at(op, output[position], args, kwargs, lambda c, p=position: c[p])
        for position in positions
    }
    if kind is tuple:
        return tuple(results[index] for index in range(len(output)))
    for position, result in results.items():
        output[position] = result
    return output


def _apply_at(
    op: Callable, template: Any, args: tuple, kwargs: dict, pick: Callable[[Any], Any]
) -> Any:
    """``apply_op`` one level down: each container argument replaced by its element."""
    return apply_op(
        op,
        template,
        *(value if isinstance(value, Node) else pick(value) for value in args),
        **{key: value if isinstance(value, Node) else pick(value) for key, value in kwargs.items()},
    )
