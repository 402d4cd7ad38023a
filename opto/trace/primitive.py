"""Primitive traced operations: a plain function turned into a cheap graph-building op.

The function's signature is read once, when the operator is made. A call wraps raw
arguments as nodes, runs the function on the data and builds one MessageNode, with no
``inspect`` call and no source lookup. An exception becomes an ExceptionNode connected to
the inputs and is raised as ``ExecutionError``.
"""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Callable
from typing import Any

from opto.trace.abstract_node import creation_order
from opto.trace.errors import ExecutionError
from opto.trace.graph import _TRACING
from opto.trace.graph import GRAPH as _GRAPH
from opto.trace.nodes import (
    USED_NODES,
    ExceptionNode,
    MessageNode,
    Node,
    _new_object,
    link_parents,
    new_root,
)

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def new_message_node(
    data: Any,
    inputs: dict[str, Node],
    description: str,
    base_name: str,
    op: Operator | None,
) -> MessageNode:
    """Build a MessageNode without argument processing (the hot path of every op).

    ``data`` is the result, ``inputs`` the input nodes by argument name, ``description`` the
    full ``[name] doc`` text, ``base_name`` the node's base name and ``op`` the operator that
    made it (None for hand-built nodes); its info is computed from ``op`` when asked for.
    """
    result = _new_object(MessageNode)
    result._data = data
    result._base, result._index = _GRAPH.reserve(base_name)
    result._children = None
    result._feedback = None
    result._backwarded = False
    result._description = description
    result._seq = next(creation_order)
    result._op = op
    if not _TRACING.get():
        result._inputs = {}
        result._parents = []
        result._level = 0
        result._has_params = False
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


def raise_as_execution_error(
    error: Exception, inputs: dict[str, Node], op_name: str, description: str
) -> None:
    """Record ``error`` as an ExceptionNode on the op's ``inputs`` and raise ExecutionError;
    ``op_name`` and ``description`` are the operator's, kept on the exception node."""
    formatted = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    info = {
        "fun_name": op_name,
        "traceback": formatted,
        "error_comment": formatted,
    }
    exception_node = ExceptionNode(
        error,
        inputs=inputs,
        description=description,
        name=f"exception_{op_name}",
        info=info,
    )
    raise ExecutionError(exception_node) from None


class Operator:
    """A traced primitive: calling it with nodes or plain values returns a MessageNode.

    ``fn`` computes on plain data; its docstring becomes the operator's description, which
    optimizers see in #Documentation. ``name`` is the operator's name (default: the
    function's).
    """

    def __init__(self, fn: Callable, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        doc = " ".join((fn.__doc__ or "").split())
        self.description = f"[{self.name}] {doc}" if doc else f"[{self.name}]"
        parameters = list(inspect.signature(fn).parameters.values())
        self._positional = tuple(p.name for p in parameters if p.kind in _POSITIONAL)
        self._keyword_only = tuple(
            p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY
        )
        self._varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)
        self._varkw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<traced operator {self.name}>"

    def node_info(self) -> dict:
        """The ``info`` dict of a node this operator made."""
        return {"fun_name": self.name, "fun": self.fn, "doc": self.fn.__doc__}

    def __reduce__(self) -> tuple:
        """Pickle by reference to the module attribute, like a function."""
        return (_find_operator, (self.fn.__module__, self.fn.__qualname__))

    def __call__(self, *args: Any, **kwargs: Any) -> MessageNode:
        names = self._positional
        if kwargs or len(args) > len(names):
            return self._call_general(args, kwargs)
        if len(args) == 2:
            x, y = args
            if not isinstance(x, Node):
                x = new_root(x)
            if not isinstance(y, Node):
                y = new_root(y)
            inputs = {names[0]: x, names[1]: y}
            try:
                data = self.fn(x._data, y._data)
            except Exception as error:
                raise_as_execution_error(error, inputs, self.name, self.description)
            return new_message_node(data, inputs, self.description, self.name, self)
        inputs = {}
        values = []
        for key, arg in zip(names, args, strict=False):
            if not isinstance(arg, Node):
                arg = new_root(arg)
            inputs[key] = arg
            values.append(arg._data)
        try:
            data = self.fn(*values)
        except Exception as error:
            raise_as_execution_error(error, inputs, self.name, self.description)
        return new_message_node(data, inputs, self.description, self.name, self)

    def _call_general(self, args: tuple, kwargs: dict) -> MessageNode:
        data, inputs = self.run(args, kwargs)
        return new_message_node(data, inputs, self.description, self.name, self)

    def run(self, args: tuple, kwargs: dict, pass_nodes: bool = False) -> tuple[Any, dict]:
        """Call the function: ``(its result, the inputs)``; an error is an ExecutionError.

        Args:
            args, kwargs: the call's arguments (nodes or plain values).
            pass_nodes: give the function the input nodes instead of their data.
        """
        inputs, positional_count = self.bind(args, kwargs)
        keys = list(inputs)
        if pass_nodes:
            values = [inputs[key] for key in keys[:positional_count]]
            keyword_values = {key: inputs[key] for key in keys[positional_count:]}
        else:
            values = [inputs[key]._data for key in keys[:positional_count]]
            keyword_values = {key: inputs[key]._data for key in keys[positional_count:]}
        try:
            return self.fn(*values, **keyword_values), inputs
        except Exception as error:
            raise_as_execution_error(error, inputs, self.name, self.description)

    def bind(self, args: tuple, kwargs: dict) -> tuple[dict[str, Node], int]:
        """Name the call's ``args`` and ``kwargs`` as the op's inputs (extra positionals are
        ``args_0``, ...).

        Returns the inputs (raw values wrapped as nodes), positional ones first, and how
        many of them are positional.
        """
        names = self._positional
        if len(args) > len(names) and not self._varargs:
            raise TypeError(
                f"{self.name}() takes {len(names)} positional arguments but {len(args)} were given"
            )
        inputs: dict[str, Node] = {}
        for index, arg in enumerate(args):
            key = names[index] if index < len(names) else f"args_{index - len(names)}"
            inputs[key] = arg if isinstance(arg, Node) else new_root(arg)
        for key, arg in kwargs.items():
            if key not in names and key not in self._keyword_only and not self._varkw:
                raise TypeError(f"{self.name}() got an unexpected keyword argument {key!r}")
            if key in inputs:
                raise TypeError(f"{self.name}() got multiple values for argument {key!r}")
            inputs[key] = arg if isinstance(arg, Node) else new_root(arg)
        return inputs, len(args)


def _find_operator(module: str, qualname: str) -> Operator:
    import importlib

    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def operator(fn: Callable | None = None, *, name: str | None = None) -> Any:
    """Decorator making a primitive traced operator (``@operator`` or ``@operator(name=..)``):
    ``fn`` is the function when used bare, ``name`` the operator's name."""
    if fn is None:
        return lambda function: Operator(function, name=name)
    return Operator(fn, name=name)
