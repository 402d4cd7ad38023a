"""@bundle: turn a Python function into one traced operation, optionally with trainable code.

Calling a bundled function wraps its arguments as nodes named after the parameters, runs the
function on their data, and returns one MessageNode whose parents are those inputs. With
``trainable=True`` the function's source is a ParameterNode (``__code``) an optimizer can
rewrite; the function is recompiled when, and only when, that string changes.

Everything that can be worked out once (signature, names, descriptions, source) is worked out
when the function is decorated, so a call costs a few microseconds. Nothing about a call is
stored on the bundle, so threads and asyncio tasks can call it concurrently.

The steps of a call that Trace exposes as methods (``preprocess_inputs``, ``wrap`` ...) are in
bundle_steps.py, compiling trainable code in trainable_code.py, bound methods in
bound_method.py.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import inspect
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from opto.runtime import make_policy
from opto.trace import source as sources
from opto.trace.abstract_node import USED_NODES, creation_order, get_op_name
from opto.trace.binding import ArgumentBinder
from opto.trace.bound_method import BoundFunModule
from opto.trace.broadcast import detach_inputs, wrap_node
from opto.trace.bundle_steps import (
    ACTIVE_BUNDLES,
    CONTAINERS,
    PLAIN_TYPES,
    FunModuleSteps,
    container_node,
)
from opto.trace.containers import RESERVED_PREFIX, BundledFunction, contains_node, to_data
from opto.trace.errors import TraceMissingInputsError
from opto.trace.frame_locals import update_local
from opto.trace.graph import GRAPH
from opto.trace.modules import Module
from opto.trace.nodes import MessageNode, Node, ParameterNode, new_root
from opto.trace.primitive import new_message_node
from opto.trace.trainable_code import ORIGINAL, TrainableCode

__all__ = [
    "ALLOW_EXTERNAL_DEPENDENCIES",
    "GRAPH",
    "BoundFunModule",
    "FunModule",
    "bundle",
    "detach_inputs",
    "disable_external_dependencies_check",
    "trace_nodes",
    "update_local",
    "wrap_node",
]

ALLOW_EXTERNAL_DEPENDENCIES: bool | None = None
"""Process-wide override of ``allow_external_dependencies``: None uses each bundle's own
setting, True allows nodes read without being inputs in every bundle, False forbids it in
every bundle. Set it with ``disable_external_dependencies_check``."""

SELF_NODE_ATTRIBUTE = RESERVED_PREFIX + "self_node"
"""Instance attribute holding the node of ``self`` that every bundled method call uses."""

_PLAIN_TYPE_SET = frozenset(PLAIN_TYPES)
_EVAL_DESCRIPTION = (
    "[eval] Runs the function defined by the code string __code on the other inputs and "
    "returns its result: __code(*args, **kwargs)."
)


def disable_external_dependencies_check(allow_external_dependencies: bool | None = True) -> None:
    """Set the process-wide override of the check for nodes used but not passed to a bundle.

    Args:
        allow_external_dependencies: True allows such nodes in every bundle (the check is off),
            False forbids them even in bundles made with ``allow_external_dependencies=True``,
            None goes back to each bundle's own setting.
    """
    global ALLOW_EXTERNAL_DEPENDENCIES
    if allow_external_dependencies is not None:
        allow_external_dependencies = bool(allow_external_dependencies)
    ALLOW_EXTERNAL_DEPENDENCIES = allow_external_dependencies


@contextlib.contextmanager
def trace_nodes() -> Iterator[list[Node]]:
    """Collect the nodes read (``.data``) or used by traced operations inside the block."""
    used: list[Node] = []
    token = USED_NODES.set(used)
    try:
        yield used
    finally:
        USED_NODES.reset(token)


def bundle(
    description: str | Callable | None = None,
    traceable_code: bool = False,
    _process_inputs: bool = True,
    trainable: bool = False,
    catch_execution_error: bool = True,
    allow_external_dependencies: bool = False,
    overwrite_python_recursion: bool = False,
    projections: list | None = None,
    output_name: str | None = None,
    *,
    source: str | None = None,
    policy: Any = None,
) -> Any:
    """Decorator making a function a traced operation (``@bundle()``; ``@bundle`` works too).

    Calling the result with nodes or values returns a MessageNode whose parents are the
    inputs, so feedback on the output reaches them (and the code, when trainable).

    Args:
        description: what the function does, shown to optimizers; default
            ``"[name] docstring"``. A function given here directly is decorated at once.
        traceable_code: pass the function detached node copies instead of data, so the
            operations inside form a nested graph and parameters used there get feedback.
        trainable: make the function's source code a parameter (``fun.parameter``) that
            optimizers rewrite; the learned code then runs under ``policy``.
        catch_execution_error: turn an exception into an ExceptionNode raised as
            ``ExecutionError``, so the error becomes feedback; False lets it through as is.
        allow_external_dependencies: accept nodes the function reads without receiving
            them as arguments (else ``TraceMissingInputsError``); they get feedback as
            hidden dependencies.
        overwrite_python_recursion: make recursive calls inside plain Python, so the whole
            recursion is one node (always on for trainable functions).
        projections: applied to each code value an optimizer proposes (trainable only).
        output_name: base name of the output nodes (default: the function's name).
        source: the code of a trainable function defined where Python keeps no source.
        policy: the execution policy (see opto.runtime) the learned code runs under.
    """
    options = dict(
        traceable_code=traceable_code,
        _process_inputs=_process_inputs,
        trainable=trainable,
        catch_execution_error=catch_execution_error,
        allow_external_dependencies=allow_external_dependencies,
        overwrite_python_recursion=overwrite_python_recursion,
        projections=projections,
        output_name=output_name,
        source=source,
        policy=policy,
    )
    if callable(description) and not isinstance(description, str):
        return FunModule(description, **options)

    def decorator(fun: Callable) -> FunModule:
        return FunModule(fun, description=description, **options)

    return decorator


def _clean_doc(fun: Callable) -> str:
    return " ".join((fun.__doc__ or "").split())


def _decoration_site_locals() -> dict[str, Any]:
    """Locals of the code that applied the decorator (helpers a code string may use)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    if frame is None or frame.f_locals is frame.f_globals:
        return {}
    return {key: value for key, value in dict(frame.f_locals).items() if key != "__builtins__"}


class FunModule(FunModuleSteps, TrainableCode, Module, BundledFunction):
    """A bundled function: call it with nodes or values, get a MessageNode back.

    Arguments are those of ``bundle`` (``description``, ``traceable_code``, ``trainable``,
    ``catch_execution_error``, ``allow_external_dependencies``,
    ``overwrite_python_recursion``, ``projections``, ``output_name``, ``source``,
    ``policy``; see ``help(bundle)``) plus ``fun``, the function, and ``_ldict``: extra names
    (a mapping) visible to trainable code when it runs; by default the local variables where
    the function was decorated.
    """

    def __init__(
        self,
        fun: Callable,
        description: str | None = None,
        traceable_code: bool = False,
        _process_inputs: bool = True,
        trainable: bool = False,
        catch_execution_error: bool = True,
        allow_external_dependencies: bool = False,
        overwrite_python_recursion: bool = False,
        projections: list | None = None,
        output_name: str | None = None,
        _ldict: Mapping[str, Any] | None = None,
        source: str | None = None,
        policy: Any = None,
    ) -> None:
        if isinstance(fun, FunModule):
            fun = fun._fun
        if trainable and isinstance(fun, functools.partial):
            raise TypeError("a functools.partial cannot be bundled with trainable=True")
        self._fun = fun
        self._fun_name = getattr(fun, "__name__", type(fun).__name__)
        self.traceable_code = traceable_code
        self._process_inputs = _process_inputs
        self.catch_execution_error = catch_execution_error
        self.allow_external_dependencies = allow_external_dependencies
        self.overwrite_python_recursion = overwrite_python_recursion or trainable
        self._binder = ArgumentBinder(fun)
        self._signature = inspect.signature(fun)
        self._is_async = inspect.iscoroutinefunction(fun)
        binder = self._binder
        self._arity = len(binder.positional)
        self._fast = (
            not self._is_async
            and not traceable_code
            and _process_inputs
            and binder.var_positional is None
            and binder.var_keyword is None
            and not binder.keyword_only
            and not type(self).overrides_a_step()
        )
        qualname = self.filter_fun_name(getattr(fun, "__qualname__", self._fun_name))
        self.description = self._full_description(description, qualname, _clean_doc(fun))
        named = get_op_name(description) if isinstance(description, str) else None
        self._op_name = output_name or ("eval" if trainable else named or self._fun_name)
        self._node_description = _EVAL_DESCRIPTION if trainable else self.description
        self._instance_key = f"{RESERVED_PREFIX}bundle_{self.name}"
        self._original_source = source
        self._static_source: str | None = None
        self.parameter: ParameterNode | None = None
        self._compiled: tuple[str, Callable, str, Any] | None = None
        self._lock = threading.Lock()
        self._site_locals: dict[str, Any] = {}
        if trainable:
            code = sources.function_source(fun, source)
            self._site_locals = dict(_ldict) if _ldict is not None else _decoration_site_locals()
            self.parameter = ParameterNode(
                code,
                name="__code",
                description="The code should start with:\n" + sources.code_header(code),
                projections=projections,
            )
            if policy is not None:
                self.parameter.execution_policy = make_policy(policy)
            self._compiled = (code, fun, "", ORIGINAL)
        self._initial_code = self.parameter._data if self.parameter is not None else None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that overrides ``forward`` is called through it, as a Module is."""
        super().__init_subclass__(**kwargs)
        if "forward" in vars(cls) and "__call__" not in vars(cls):
            cls.__call__ = Module.__call__

    @staticmethod
    def _full_description(description: str | None, qualname: str, doc: str) -> str:
        if description is None:
            return f"[{qualname}] {doc}".rstrip()
        if description.startswith("["):
            return description
        return f"[{qualname}] {description}"

    # -- what the module exposes -----------------------------------------------------------

    @property
    def name(self) -> str:
        """The operator name: ``A.f`` for a method ``f`` of class ``A``, or the name given in
        a ``"[name] ..."`` description."""
        return get_op_name(self.description) or self._fun_name

    @property
    def trainable(self) -> bool:
        """Whether the function's code is a parameter (``bundle(trainable=True)``)."""
        return self.parameter is not None

    @property
    def fun(self) -> Callable:
        """The function as it is now (recompiled from ``__code`` when that changed)."""
        return self._current_function()

    @property
    def fn(self) -> Callable:
        """The function as it was decorated (never the learned code)."""
        return self._fun

    @property
    def info(self) -> dict:
        """Facts about the function, as Trace's ``FunModule.info`` (``source`` included)."""
        return self.node_info()

    def node_info(self) -> dict:
        """The ``info`` of this bundle's output nodes."""
        code = getattr(self._fun, "__code__", None)
        return {
            "fun_name": self._op_name,
            "fun": self._fun,
            "doc": self._fun.__doc__,
            "signature": self._signature,
            "source": self._source_text(),
            "file": getattr(code, "co_filename", None),
            "line_number": getattr(code, "co_firstlineno", None),
        }

    def _source_text(self) -> str | None:
        """The current code of a trainable bundle, else the function's source (found once)."""
        if self.parameter is not None:
            return self.parameter._data
        if self._static_source is None:
            try:
                self._static_source = sources.function_source(self._fun, self._original_source)
            except (OSError, TypeError):
                self._static_source = ""
        return self._static_source or None

    def parameters_dict(self) -> dict:
        return {"__code": self.parameter} if self.parameter is not None else {}

    def detach(self) -> FunModule:
        """An independent copy whose code parameter is a new root."""
        duplicate = copy.copy(self)
        if self.parameter is not None:
            duplicate.parameter = self.parameter.detach()
        return duplicate

    # -- calling ---------------------------------------------------------------------------

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
                inputs[key] = new_root(value, key)
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
        result = new_message_node(data, inputs, self._node_description, self._op_name, self)
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

    def _external_nodes(self, used: list[Node], inputs: dict[str, Node]) -> list[Node]:
        """The nodes among ``used`` that are not inputs; raises unless they are allowed."""
        known = {id(value) for value in inputs.values()}
        external = list({id(n): n for n in used if id(n) not in known}.values())
        if not external:
            return []
        allowed = ALLOW_EXTERNAL_DEPENDENCIES
        if allowed is None:
            allowed = self.allow_external_dependencies
        if not allowed:
            names = ", ".join(sorted(n.name for n in external))
            raise TraceMissingInputsError(
                f"{self._fun_name}() used node(s) {names} without receiving them as inputs, so "
                "they would get no feedback. Pass them as arguments, or decorate with "
                "bundle(allow_external_dependencies=True) (external parameters then receive "
                "feedback as hidden dependencies)."
            )
        return external

    # -- methods, copies, pickling ---------------------------------------------------------

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        """A bundled method of ``obj``: ``obj`` is its ``self`` input.

        As in Trace, the instance keeps its own copy of the bundle (with its own ``__code``
        parameter) in ``__TRACE_RESERVED_bundle_<name>`` and the node of ``self``, shared by
        all its bundled methods, in ``__TRACE_RESERVED_self_node``.
        """
        if obj is None:
            return self
        instance_dict = getattr(obj, "__dict__", None)
        if instance_dict is None:  # no __dict__ (slots): nothing can be kept per instance
            return BoundFunModule(self._for_instance(), obj, new_root(obj))
        key = self._instance_key
        module = instance_dict.get(key)
        if getattr(module, "_fun", None) is not self._fun:
            module = instance_dict[key] = self._for_instance()
        self_node = instance_dict.get(SELF_NODE_ATTRIBUTE)
        if not isinstance(self_node, Node):
            self_node = instance_dict[SELF_NODE_ATTRIBUTE] = new_root(obj)
        return BoundFunModule(module, obj, self_node)

    def _for_instance(self) -> FunModule:
        """The bundle an instance uses: a copy, with a ``__code`` parameter of its own."""
        duplicate = copy.copy(self)
        duplicate._lock = threading.Lock()
        if self.parameter is not None:
            duplicate.parameter = ParameterNode(
                self.parameter._data,
                name="__code",
                description=self.parameter.description,
                projections=list(self.parameter.projections),
            )
            if "execution_policy" in self.parameter.__dict__:
                duplicate.parameter.execution_policy = self.parameter.execution_policy
        return duplicate

    def __copy__(self) -> FunModule:
        duplicate = object.__new__(type(self))
        duplicate.__dict__.update(self.__dict__)
        return duplicate

    def __deepcopy__(self, memo: dict) -> FunModule:
        duplicate = copy.copy(self)
        duplicate._lock = threading.Lock()
        if self.parameter is not None:
            duplicate.parameter = copy.deepcopy(self.parameter, memo)
        memo[id(self)] = duplicate
        return duplicate

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_fun"] = _FunctionReference(self._fun)
        state.pop("_lock", None)
        state["_site_locals"] = {}
        state["_compiled"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._fun = state["_fun"].resolve()
        self._lock = threading.Lock()
        if self.parameter is not None:
            self._compiled = (self._initial_code, self._fun, "", ORIGINAL)

    def __repr__(self) -> str:
        kind = "trainable bundle" if self.trainable else "bundle"
        return f"<{kind} {self._fun_name}>"


class _FunctionReference:
    """Pickles a bundled function by where it is defined, not by value."""

    def __init__(self, fun: Callable) -> None:
        self.module = fun.__module__
        self.qualname = fun.__qualname__

    def resolve(self) -> Callable:
        found: Any = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            found = getattr(found, part)
        if isinstance(found, BoundFunModule):
            found = found.module
        return found.fn if isinstance(found, FunModule) else found
