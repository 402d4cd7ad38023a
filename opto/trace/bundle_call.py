"""Calling a bundle: the fused fast path of a plain call, and the general path.

A plain positional call of a plain function (the common case) runs in one frame that does
what the step methods of bundle_steps.py do in sequence, in fewer function calls. Every
other call (keywords, ``*args``, async functions, a subclass overriding a step) goes
through the steps. A recursive call from inside the function is plain Python.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opto.trace.abstract_node import USED_NODES, creation_order
from opto.trace.binding import ArgumentBinder
from opto.trace.bundle_steps import ACTIVE_BUNDLES, CONTAINERS, PLAIN_TYPES, container_node
from opto.trace.containers import contains_node, to_data
from opto.trace.node_fields import new_node
from opto.trace.nodes import MessageNode, Node, ParameterNode, new_root

_PLAIN_TYPE_SET = frozenset(PLAIN_TYPES)


class BundleCalls:
    """The call paths of FunModule (``forward``, which ``__call__`` is)."""

    # Set by FunModule.__init__.
    _arity: int
    _binder: ArgumentBinder
    _fast: bool
    _fun: Callable
    _is_async: bool
    _node_description: str
    _op_name: str
    overwrite_python_recursion: bool
    parameter: ParameterNode | None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function on ``args``/``kwargs``: a MessageNode (a coroutine for async)."""
        if kwargs or not self._fast or len(args) != self._arity:
            return self._general_forward(args, kwargs)
        # The common case (plain positional call of a plain function), kept in one frame.
        # It gives what the steps (sync_forward ...) give, in fewer function calls.
        if self.overwrite_python_recursion and self._fun in ACTIVE_BUNDLES.get():
            return self._raw_call(args, {})
        inputs: dict[str, Node] = {}
        values: list[Any] = []
        for key, value in zip(self._binder.positional, args, strict=True):
            if type(value) in _PLAIN_TYPE_SET:  # the common raw value: no checks needed
                inputs[key] = new_node(Node, value, key, "[Node]")  # new_root, one call less
                values.append(value)
                continue
            if isinstance(value, Node):
                data = value._data
            elif isinstance(value, CONTAINERS) and contains_node(value):
                value = container_node(value)
                data = value._data
            else:
                data = value
                value = new_root(value, key)
            inputs[key] = value
            values.append(data if isinstance(data, PLAIN_TYPES) else to_data(data))
        if self.parameter is not None:
            inputs["__code"] = self.parameter
        outer = USED_NODES.get()
        if outer is not None:
            outer.extend(inputs.values())
        try:
            fun = self._current_function()
        except Exception as error:
            self._fail(error, inputs)
        used: list[Node] = []
        start = next(creation_order)
        token = USED_NODES.set(used)
        active = (
            ACTIVE_BUNDLES.set(ACTIVE_BUNDLES.get() | {self._fun})
            if self.overwrite_python_recursion
            else None
        )
        try:
            output = fun(*values)
        except Exception as error:
            self._fail(error, inputs)
        finally:
            USED_NODES.reset(token)
            if active is not None:
                ACTIVE_BUNDLES.reset(active)
        data = output
        if type(output) not in _PLAIN_TYPE_SET:
            if isinstance(output, Exception):
                self._fail(output, inputs)
            if isinstance(output, Node) or (
                isinstance(output, CONTAINERS) and contains_node(output)
            ):
                data = to_data(output)
        result = new_node(MessageNode, data, self._op_name, self._node_description, inputs, self)
        if used:
            external = self._external_nodes([n for n in used if n._seq < start], inputs)
            hidden = {n for n in external if isinstance(n, ParameterNode)}
            if hidden:
                result._set_hidden_dependencies(hidden)
        return result

    __call__ = forward

    def _general_forward(self, args: tuple, kwargs: dict) -> Any:
        if self._is_async:
            return self._resolve_then_async_forward(args, kwargs)
        if self.overwrite_python_recursion and self._fun in ACTIVE_BUNDLES.get():
            return self._raw_call(args, kwargs)
        return self.sync_forward(self._function_for_call(args, kwargs), *args, **kwargs)

    async def _resolve_then_async_forward(self, args: tuple, kwargs: dict) -> MessageNode:
        return await self.async_forward(self._function_for_call(args, kwargs), *args, **kwargs)

    def _function_for_call(self, args: tuple, kwargs: dict) -> Callable:
        """The current function; a failure to compile it is raised as the call's error."""
        try:
            return self._current_function()
        except Exception as error:
            self._fail(error, self._wrap_inputs(args, kwargs)[0])

    def _raw_call(self, args: tuple, kwargs: dict) -> Any:
        """A recursive call from inside the function: plain Python, no new nodes."""
        return self._current_function()(*to_data(list(args)), **to_data(kwargs))
