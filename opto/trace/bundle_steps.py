"""The steps of one bundle call, as public methods a FunModule subclass may override.

A call of a bundled function goes: wrap the arguments as nodes (the inputs), turn them into
what the function receives (``preprocess_inputs``), run it (``sync_call_fun`` /
``async_call_fun``), check which nodes it read (``postprocess_output``) and build the output
node (``wrap``). These are Trace's method names and arguments. FunModule runs plain calls
through a fused fast path that gives the same result; a subclass that overrides one of these
steps gets the step-by-step path instead, so the override is always used.

Also here: Trace's source helpers of a bundle (``get_source``, ``generate_comment``,
``filter_fun_name``).
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import textwrap
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from opto.trace import operators as ops
from opto.trace.abstract_node import USED_NODES, creation_order
from opto.trace.code_errors import error_comment
from opto.trace.containers import contains_node, to_data
from opto.trace.errors import ExecutionError
from opto.trace.node_fields import new_node
from opto.trace.nodes import (
    ExceptionNode,
    MessageNode,
    Node,
    ParameterNode,
    new_root,
)
from opto.utils.source_analysis import lines_through_decorator

if TYPE_CHECKING:
    from opto.trace.binding import ArgumentBinder
    from opto.trace.trainable_code import CompiledCode

ACTIVE_BUNDLES: contextvars.ContextVar[frozenset] = contextvars.ContextVar(
    "opto_active_bundles", default=frozenset()
)
"""Functions whose bundle is running in this context (recursive calls stay plain Python)."""

PLAIN_TYPES = (int, float, str, bool, type(None), bytes)
CONTAINERS = (list, tuple, dict, set, frozenset)
STEP_NAMES = ("sync_forward", "preprocess_inputs", "sync_call_fun", "postprocess_output", "wrap")


class FunModuleSteps:
    """Trace's call steps of FunModule; see the module docstring."""

    # Set by FunModule.__init__.
    _binder: ArgumentBinder
    _fun: Callable
    _process_inputs: bool
    traceable_code: bool
    catch_execution_error: bool
    overwrite_python_recursion: bool
    parameter: ParameterNode | None
    _compiled: CompiledCode | None
    _original_source: str | None

    @classmethod
    def overrides_a_step(cls) -> bool:
        """Whether this class replaces one of the call steps (then every call uses them)."""
        return any(getattr(cls, name) is not getattr(FunModuleSteps, name) for name in STEP_NAMES)

    # -- the call, step by step ------------------------------------------------------------

    def sync_forward(self, fun: Callable, *args: Any, **kwargs: Any) -> MessageNode:
        """The whole call of ``fun`` with ``args``/``kwargs``: the output MessageNode."""
        inputs, node_args, node_kwargs = self._input_nodes(args, kwargs)
        with _reads_of_earlier_nodes() as used:
            call_args, call_kwargs = self.preprocess_inputs(node_args, node_kwargs, args, kwargs)
            output = self.sync_call_fun(fun, *call_args, **call_kwargs)
        return self.postprocess_output(output, fun, args, kwargs, used, inputs)

    async def async_forward(self, fun: Callable, *args: Any, **kwargs: Any) -> MessageNode:
        """``sync_forward`` for ``fun``, a coroutine function (await the result)."""
        inputs, node_args, node_kwargs = self._input_nodes(args, kwargs)
        with _reads_of_earlier_nodes() as used:
            call_args, call_kwargs = self.preprocess_inputs(node_args, node_kwargs, args, kwargs)
            output = await self.async_call_fun(fun, *call_args, **call_kwargs)
        return self.postprocess_output(output, fun, args, kwargs, used, inputs)

    def preprocess_inputs(
        self, args: list[Node], kwargs: dict[str, Node], _args: tuple, _kwargs: dict
    ) -> tuple[list[Any], dict[str, Any]]:
        """What the function receives.

        Args:
            args, kwargs: the arguments as input nodes.
            _args, _kwargs: the arguments as the caller gave them.

        Returns the node data (nodes inside containers unwrapped); new root copies of the
        inputs with ``traceable_code``; the caller's arguments untouched without
        ``_process_inputs``.
        """
        if not self._process_inputs:
            return list(_args), dict(_kwargs)
        convert = _detached if self.traceable_code else _plain_data
        return [convert(value) for value in args], {k: convert(v) for k, v in kwargs.items()}

    def sync_call_fun(self, fun: Callable, *_args: Any, **_kwargs: Any) -> Any:
        """Run ``fun``; with ``catch_execution_error`` an exception is returned, not raised."""
        with self._running() as caught:
            return fun(*_args, **_kwargs)
        return caught[0]

    async def async_call_fun(self, fun: Callable, *_args: Any, **_kwargs: Any) -> Any:
        """``sync_call_fun`` for ``fun``, a coroutine function."""
        with self._running() as caught:
            return await fun(*_args, **_kwargs)
        return caught[0]

    def postprocess_output(
        self,
        output: Any,
        fun: Callable,
        _args: tuple,
        _kwargs: dict,
        used_nodes: list[Node],
        inputs: dict[str, Node],
    ) -> MessageNode:
        """Check the nodes the call read (``used_nodes``) and build the output node.

        Raises TraceMissingInputsError when a node that existed before the call was read
        without being an input, unless external dependencies are allowed. ``output`` is
        what the function returned, ``fun`` the function, ``_args``/``_kwargs`` the
        caller's arguments and ``inputs`` the input nodes by argument name.
        """
        if isinstance(output, Exception):
            return self.wrap(output, inputs, [])
        external = [] if self.traceable_code else self._external_nodes(used_nodes, inputs)
        return self.wrap(output, inputs, external)

    def wrap(
        self, output: Any, inputs: dict[str, Node], external_dependencies: list[Node]
    ) -> MessageNode:
        """The output MessageNode of ``output``, with ``inputs`` (by argument name) as its
        parents (an exception output is raised as ExecutionError).

        Parameters among ``external_dependencies``, and, with ``traceable_code``, the
        parameters used inside the function, receive feedback as hidden dependencies.
        """
        if isinstance(output, Exception):
            self._fail(output, inputs)
        hidden: set[ParameterNode] = {
            n for n in external_dependencies if isinstance(n, ParameterNode)
        }
        inner = None
        if self.traceable_code and isinstance(output, Node):
            inner = output
            hidden |= _hidden_parameters(output, inputs)
            data = output._data
        elif isinstance(output, Node) or (isinstance(output, CONTAINERS) and contains_node(output)):
            data = to_data(output)
        else:
            data = output
        result = new_node(MessageNode, data, self._op_name, self._node_description, inputs, self)
        if inner is not None:
            result._info = {**self.node_info(), "output": inner}
        if hidden:
            result._set_hidden_dependencies(hidden)
        return result

    @staticmethod
    def is_valid_output(output: Any) -> bool:
        """Whether ``output`` is a node or a tuple of nodes."""
        if isinstance(output, Node):
            return True
        return isinstance(output, tuple) and all(isinstance(item, Node) for item in output)

    # -- pieces the steps share --------------------------------------------------------------

    def _fail(self, error: Exception, inputs: dict[str, Node]) -> None:
        if not self.catch_execution_error:
            raise error
        root = error
        if isinstance(error, ExecutionError) and error.exception is not None:
            root = error.exception
        info = self.node_info()
        info["error_comment"] = error_comment(
            root,
            code=None if self.parameter is None else self.parameter._data,
            compiled=self._compiled,
            fun=self._fun,
            original_source=self._original_source,
        )
        info["traceback"] = "".join(
            traceback.format_exception(type(error), error, error.__traceback__)
        )
        if isinstance(error, ExecutionError):
            info["inner_exception_node"] = error.exception_node
        exception_node = ExceptionNode(
            root,
            inputs=inputs,
            description=self._node_description,
            name=f"exception_{self._op_name}",
            info=info,
        )
        raise ExecutionError(exception_node) from None

    @contextlib.contextmanager
    def _running(self) -> Iterator[list[Exception]]:
        """Run the block as this bundle's call: marked active (for recursion), and with
        ``catch_execution_error`` an exception is kept in the yielded list instead of raised."""
        caught: list[Exception] = []
        active = (
            ACTIVE_BUNDLES.set(ACTIVE_BUNDLES.get() | {self._fun})
            if self.overwrite_python_recursion
            else None
        )
        try:
            yield caught
        except Exception as error:
            if not self.catch_execution_error:
                raise
            caught.append(error)
        finally:
            if active is not None:
                ACTIVE_BUNDLES.reset(active)

    def _wrap_inputs(self, args: tuple, kwargs: dict) -> tuple[dict[str, Node], list[str]]:
        named, extra = self._binder.bind(args, kwargs)
        inputs: dict[str, Node] = {}
        for key, value in named.items():
            if isinstance(value, Node):
                inputs[key] = value
            elif isinstance(value, CONTAINERS) and contains_node(value):
                inputs[key] = container_node(value)
            else:
                inputs[key] = new_root(value, None if key in extra else key)
        if self.parameter is not None:
            inputs["__code"] = self.parameter
        outer = USED_NODES.get()
        if outer is not None:
            outer.extend(inputs.values())
        return inputs, extra

    def _input_nodes(
        self, args: tuple, kwargs: dict
    ) -> tuple[dict[str, Node], list[Node], dict[str, Node]]:
        """The inputs, and the same nodes as the call's positional and keyword arguments."""
        inputs, extra = self._wrap_inputs(args, kwargs)
        named = {key: value for key, value in inputs.items() if key != "__code"}
        node_args, node_kwargs = self._binder.split(named, extra)
        return inputs, node_args, node_kwargs

    # -- Trace's source helpers ------------------------------------------------------------

    def get_source(self, obj: Any, bug_mode: bool = False) -> tuple[str, int]:
        """The source of ``obj`` from its ``def`` on, and the file line where that starts.

        Decorators up to and including ``@bundle(...)`` are left out (those below it are
        kept); the text is dedented. Raises OSError when Python has no source for ``obj``,
        and ValueError when the text has no ``def`` (unless ``bug_mode``).
        """
        lines, first_line = inspect.getsourcelines(obj)
        skipped = lines_through_decorator("".join(lines), "bundle")
        text = textwrap.dedent("".join(lines[skipped:])).strip()
        if "def" not in text and not bug_mode:
            raise ValueError(f"the source of {obj!r} defines no function: {text[:80]!r}")
        return text, first_line + skipped

    def generate_comment(
        self, code: str, comment: str, comment_line_number: int, base_line_number: int = 0
    ) -> str:
        """``code`` with `` <--- comment`` after line ``comment_line_number - base_line_number``
        (0-based); a line number outside the code leaves it unchanged."""
        lines = code.split("\n")
        index = comment_line_number - base_line_number
        if 0 <= index < len(lines):
            lines[index] = f"{lines[index]} <--- {comment}"
        return "\n".join(lines)

    def filter_fun_name(self, fun_name: str) -> str:
        """``fun_name``, a qualified name, without ``<locals>.`` parts (``f.<locals>.g`` ->
        ``f.g``)."""
        return fun_name.replace("<locals>.", "")


@contextlib.contextmanager
def _reads_of_earlier_nodes() -> Iterator[list[Node]]:
    """Collect, in the yielded list, the nodes read inside the block that existed before it
    (nodes the block creates are its own business, not external dependencies)."""
    used: list[Node] = []
    start = next(creation_order)
    token = USED_NODES.set(used)
    earlier: list[Node] = []
    try:
        yield earlier
    finally:
        USED_NODES.reset(token)
        earlier.extend(item for item in used if item._seq < start)


def _plain_data(value: Node) -> Any:
    data = value._data
    return data if isinstance(data, PLAIN_TYPES) else to_data(data)


def _detached(value: Node) -> Node:
    """A new root with the same data: what traceable code computes on."""
    return new_root(value._data, f"{value.py_name}_copy")


def _hidden_parameters(output: Node, inputs: dict[str, Node]) -> set[ParameterNode]:
    visible: set[ParameterNode] = set()
    for value in inputs.values():
        visible |= value.parameter_dependencies
    return output.parameter_dependencies - visible


def container_node(value: Any) -> Node:
    """``value``, a list/tuple/dict/set argument holding nodes, as a traced container node
    (so each node inside is an input of the call)."""
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return ops.make_dict(**{k: _element(v) for k, v in value.items()})
        return new_root(to_data(value))
    items = [_element(item) for item in value]
    if isinstance(value, tuple):
        return ops.make_tuple(*items)
    if isinstance(value, (set, frozenset)):
        return ops.make_set(*items)
    return ops.make_list(*items)


def _element(item: Any) -> Any:
    if isinstance(item, CONTAINERS) and contains_node(item):
        return container_node(item)
    return item
