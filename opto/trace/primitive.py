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

from opto.trace.errors import ExecutionError
from opto.trace.node_fields import new_node
from opto.trace.nodes import ExceptionNode, MessageNode, Node, new_root

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def raise_as_execution_error(
    error: Exception, inputs: dict[str, Node], op_name: str, description: str
) -> None:
    """Record ``error`` as an ExceptionNode on the op's inputs and raise ExecutionError.

    The node keeps the traceback and is connected to ``inputs``, so the failure is part of
    the graph and feedback on it reaches the parameters that caused it.

    Args:
        error: what the operation's function raised.
        inputs: the operation's input nodes by argument name.
        op_name: the operation's name (the node is named ``exception_<op_name>``).
        description: the operation's description, given to the exception node.
    """
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

    Args:
        fn: the plain function computed on the inputs' data; its signature names the
            node's inputs and its docstring becomes the operation's description.
        name: the operation's name in the graph (default: ``fn.__name__``).
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
                x = new_node(Node, x, type(x).__name__, "[Node]")  # new_root, one call less
            if not isinstance(y, Node):
                y = new_node(Node, y, type(y).__name__, "[Node]")
            inputs = {names[0]: x, names[1]: y}
            try:
                data = self.fn(x._data, y._data)
            except Exception as error:
                raise_as_execution_error(error, inputs, self.name, self.description)
            return new_node(MessageNode, data, self.name, self.description, inputs, self)
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
        return new_node(MessageNode, data, self.name, self.description, inputs, self)

    def _call_general(self, args: tuple, kwargs: dict) -> MessageNode:
        data, inputs = self.run(args, kwargs)
        return new_node(MessageNode, data, self.name, self.description, inputs, self)

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
        ``args_0``, ...); ``TypeError`` for a call the function's signature refuses.

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
    """Decorator making a primitive traced operator (``@operator`` or ``@operator(name=..)``).

    Args:
        fn: the function to wrap (given by ``@operator``; None with ``@operator(name=...)``,
            which returns the decorator).
        name: the operation's name in the graph (default: the function's name).
    """
    if fn is None:
        return lambda function: Operator(function, name=name)
    return Operator(fn, name=name)
