"""@bundle: turn a Python function into one traced operation, optionally with trainable code.

Calling a bundled function wraps its arguments as nodes named after the parameters, runs the
function on their data, and returns one MessageNode whose parents are those inputs. With
``trainable=True`` the function's source is a ParameterNode (``__code``) an optimizer can
rewrite; the function is recompiled when, and only when, that string changes.

Everything that can be worked out once (signature, names, descriptions, source) is worked out
when the function is decorated, so a call costs a few microseconds. Nothing about a call is
stored on the bundle, so threads and asyncio tasks can call it concurrently.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import importlib
import inspect
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from opto.runtime import ExecutionPolicy, InProcessPolicy, SandboxError, make_policy, resolve_policy
from opto.runtime.source import code_filename
from opto.trace import operators as ops
from opto.trace import source as sources
from opto.trace.binding import ArgumentBinder
from opto.trace.containers import _BOUND_PREFIX, contains_node, to_data
from opto.trace.errors import ExecutionError, TraceMissingInputsError
from opto.trace.modules import Module
from opto.trace.nodes import (
    USED_NODES,
    ExceptionNode,
    MessageNode,
    Node,
    ParameterNode,
    _creation_order,
    new_root,
)
from opto.trace.primitive import new_message_node

_ACTIVE: contextvars.ContextVar[frozenset] = contextvars.ContextVar(
    "opto_active_bundles", default=frozenset()
)
_external_dependencies_check = {"disabled": False}
_PLAIN_TYPES = (int, float, str, bool, type(None), bytes)
_PLAIN_TYPE_SET = frozenset(_PLAIN_TYPES)
_CONTAINERS = (list, tuple, dict, set, frozenset)
_EVAL_DESCRIPTION = (
    "[eval] Runs the function defined by the code string __code on the other inputs and "
    "returns its result: __code(*args, **kwargs)."
)


def disable_external_dependencies_check(disable: bool = True) -> None:
    """Switch off (or back on) the check for nodes used but not passed to a bundle."""
    _external_dependencies_check["disabled"] = bool(disable)


@contextlib.contextmanager
def trace_nodes() -> Iterator[list[Node]]:
    """Collect the nodes read (``.data``) or used by traced operations inside the block."""
    used: list[Node] = []
    token = USED_NODES.set(used)
    try:
        yield used
    finally:
        USED_NODES.reset(token)


_ORIGINAL = object()
"""Marks the decorated function itself standing for unchanged code (plain in-process runs)."""


def _is_plain(policy: ExecutionPolicy) -> bool:
    return type(policy) is InProcessPolicy and not policy.guarded


def _fits(loaded_with: Any, policy: ExecutionPolicy) -> bool:
    return loaded_with is policy or (loaded_with is _ORIGINAL and _is_plain(policy))


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

    ``source=`` gives the code of a trainable function defined where Python keeps no source;
    ``policy=`` the execution policy (see opto.runtime) its learned code runs under.
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


class FunModule(Module):
    """A bundled function: call it with nodes or values, get a MessageNode back."""

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
        source: str | None = None,
        policy: Any = None,
    ) -> None:
        if isinstance(fun, FunModule):
            fun = fun._fun
        if trainable and isinstance(fun, functools.partial):
            raise TypeError("a functools.partial cannot be bundled with trainable=True")
        self._fun = fun
        self.name = getattr(fun, "__name__", type(fun).__name__)
        self.traceable_code = traceable_code
        self._process_inputs = _process_inputs
        self.trainable = trainable
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
        )
        qualname = getattr(fun, "__qualname__", self.name).replace("<locals>.", "")
        self.description = self._full_description(description, qualname, _clean_doc(fun))
        self._op_name = output_name or ("eval" if trainable else self.name)
        self._node_description = _EVAL_DESCRIPTION if trainable else self.description
        self._original_source = source
        self.parameter: ParameterNode | None = None
        self._compiled: tuple[str, Callable, str, Any] | None = None
        self._lock = threading.Lock()
        self._site_locals: dict[str, Any] = {}
        if trainable:
            code = sources.function_source(fun, source)
            self._site_locals = _decoration_site_locals()
            self.parameter = ParameterNode(
                code,
                name="__code",
                description="The code should start with:\n" + sources.code_header(code),
                projections=projections,
            )
            if policy is not None:
                self.parameter.execution_policy = make_policy(policy)
            self._compiled = (code, fun, "", _ORIGINAL)
        self._initial_code = self.parameter._data if self.parameter is not None else None

    @staticmethod
    def _full_description(description: str | None, qualname: str, doc: str) -> str:
        if description is None:
            return f"[{qualname}] {doc}".rstrip()
        if description.startswith("["):
            return description
        return f"[{qualname}] {description}"

    # -- what the module exposes -----------------------------------------------------------

    @property
    def fun(self) -> Callable:
        """The function as it is now (recompiled from ``__code`` when that changed)."""
        return self._current_function()

    @property
    def fn(self) -> Callable:
        return self._fun

    @property
    def info(self) -> dict:
        """Static facts about the function (what Trace kept in ``FunModule.info``)."""
        return self.node_info()

    def node_info(self) -> dict:
        info = {
            "fun_name": self._op_name,
            "fun": self._fun,
            "doc": self._fun.__doc__,
            "signature": self._signature,
            "file": getattr(getattr(self._fun, "__code__", None), "co_filename", None),
            "line_number": getattr(getattr(self._fun, "__code__", None), "co_firstlineno", None),
        }
        if self.parameter is not None:
            info["source"] = self.parameter._data
        return info

    def parameters_dict(self) -> dict:
        return {"__code": self.parameter} if self.parameter is not None else {}

    def detach(self) -> FunModule:
        """An independent copy whose code parameter is a new root."""
        duplicate = copy.copy(self)
        if self.parameter is not None:
            duplicate.parameter = self.parameter.detach()
        return duplicate

    # -- compiling trainable code ----------------------------------------------------------

    def _current_function(self) -> Callable:
        compiled = self._compiled
        if compiled is None:
            return self._fun
        code = self.parameter._data
        policy = resolve_policy(getattr(self.parameter, "execution_policy", None))
        if (compiled[0] is code or compiled[0] == code) and _fits(compiled[3], policy):
            return compiled[1]
        with self._lock:
            compiled = self._compiled
            if compiled[0] == code and _fits(compiled[3], policy):
                return compiled[1]
            if code == self._initial_code and type(policy) is InProcessPolicy:
                # The decorated function itself, under the policy's guards: not recompiled.
                function = policy.guard(self._fun)
                self._compiled = (code, function, "", policy)
                return function
            function, filename = self._compile(code, policy)
            self._compiled = (code, function, filename, policy)
            return function

    def _compile(self, code: str, policy: ExecutionPolicy) -> tuple[Callable, str]:
        """Load the code string under ``policy``, with the function's names in scope."""
        if not isinstance(code, str):
            raise TypeError(f"__code of {self.name} must be a string, got {type(code).__name__}")
        namespace = dict(getattr(self._fun, "__globals__", {}))
        namespace.update(self._site_locals)
        namespace.update(self._closure_values())
        namespace.pop(self.name, None)
        filename = code_filename(code, self.name)
        return policy.load(code, self.name, namespace, filename=filename), filename

    def _closure_values(self) -> dict[str, Any]:
        code = getattr(self._fun, "__code__", None)
        closure = getattr(self._fun, "__closure__", None) or ()
        values = {}
        for name, cell in zip(code.co_freevars if code else (), closure, strict=False):
            with contextlib.suppress(ValueError):
                values[name] = cell.cell_contents
        return values

    # -- calling ---------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or not self._fast or len(args) != self._arity:
            return self._general_forward(args, kwargs)
        # The common case (plain positional call of a plain function), kept in one frame.
        if self.overwrite_python_recursion and self._fun in _ACTIVE.get():
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
            elif isinstance(value, _CONTAINERS) and contains_node(value):
                value = _container_node(value)
                data = value._data
            else:
                data = value
                value = new_root(value, key)
            inputs[key] = value
            values.append(data if isinstance(data, _PLAIN_TYPES) else to_data(data))
        if self.parameter is not None:
            inputs["__code"] = self.parameter
        outer = USED_NODES.get()
        if outer is not None:
            outer.extend(inputs.values())
        try:
            fun = self._current_function()
        except Exception as error:
            self._fail(error, inputs)
        output, used, start = self._invoke(fun, inputs, values, {})
        data = output
        if type(output) not in _PLAIN_TYPE_SET and (
            isinstance(output, Node) or (isinstance(output, _CONTAINERS) and contains_node(output))
        ):
            data = to_data(output)
        result = new_message_node(data, inputs, self._node_description, self._op_name, self)
        if used:
            hidden = self._check_external(used, inputs, start)
            if hidden:
                result._set_hidden_dependencies(hidden)
        return result

    __call__ = forward

    def _general_forward(self, args: tuple, kwargs: dict) -> Any:
        if self._is_async:
            return self._async_forward(args, kwargs)
        if self.overwrite_python_recursion and self._fun in _ACTIVE.get():
            return self._raw_call(args, kwargs)
        inputs, extra = self._wrap_inputs(args, kwargs)
        try:
            fun = self._current_function()
        except Exception as error:
            self._fail(error, inputs)
        call_args, call_kwargs = self._call_arguments(args, kwargs, inputs, extra)
        output, used, start = self._invoke(fun, inputs, call_args, call_kwargs)
        return self._output_node(output, inputs, used, start)

    def _invoke(
        self, fun: Callable, inputs: dict[str, Node], args: Any, kwargs: dict
    ) -> tuple[Any, list[Node], int]:
        """Run the function, recording the nodes it touches (to find external dependencies)
        and marking it active (so a recursive call stays plain Python)."""
        used: list[Node] = []
        start = next(_creation_order)
        token = USED_NODES.set(used)
        active = (
            _ACTIVE.set(_ACTIVE.get() | {self._fun}) if self.overwrite_python_recursion else None
        )
        try:
            output = fun(*args, **kwargs)
        except Exception as error:
            self._fail(error, inputs)
        finally:
            USED_NODES.reset(token)
            if active is not None:
                _ACTIVE.reset(active)
        return output, used, start

    async def _async_forward(self, args: tuple, kwargs: dict) -> MessageNode:
        inputs, extra = self._wrap_inputs(args, kwargs)
        try:
            fun = self._current_function()
        except Exception as error:
            self._fail(error, inputs)
        call_args, call_kwargs = self._call_arguments(args, kwargs, inputs, extra)
        used: list[Node] = []
        start = next(_creation_order)
        token = USED_NODES.set(used)
        try:
            output = await fun(*call_args, **call_kwargs)
        except Exception as error:
            self._fail(error, inputs)
        finally:
            USED_NODES.reset(token)
        return self._output_node(output, inputs, used, start)

    def _raw_call(self, args: tuple, kwargs: dict) -> Any:
        """A recursive call from inside the function: plain Python, no new nodes."""
        return self._current_function()(*to_data(list(args)), **to_data(kwargs))

    def _wrap_inputs(self, args: tuple, kwargs: dict) -> tuple[dict[str, Node], list[str]]:
        named, extra = self._binder.bind(args, kwargs)
        inputs: dict[str, Node] = {}
        for key, value in named.items():
            if isinstance(value, Node):
                inputs[key] = value
            elif isinstance(value, _CONTAINERS) and contains_node(value):
                inputs[key] = _container_node(value)
            else:
                inputs[key] = new_root(value, None if key in extra else key)
        if self.parameter is not None:
            inputs["__code"] = self.parameter
        outer = USED_NODES.get()
        if outer is not None:
            outer.extend(inputs.values())
        return inputs, extra

    def _call_arguments(
        self, args: tuple, kwargs: dict, inputs: dict[str, Node], extra: list[str]
    ) -> tuple[list[Any], dict[str, Any]]:
        if not self._process_inputs:
            return list(args), dict(kwargs)
        values: dict[str, Any] = {}
        for key, value in inputs.items():
            if key == "__code":
                continue
            if self.traceable_code:
                values[key] = _shallow_detach(value)
            else:
                data = value._data
                values[key] = data if isinstance(data, _PLAIN_TYPES) else to_data(data)
        return self._binder.split(values, extra)

    def _output_node(
        self, output: Any, inputs: dict[str, Node], used: list[Node], start: int
    ) -> MessageNode:
        hidden: set[ParameterNode] = set()
        info_output = None
        if self.traceable_code and isinstance(output, Node):
            info_output = output
            hidden = self._hidden_parameters(output, inputs)
            data = output._data
        else:
            data = output
            if isinstance(output, Node) or (
                isinstance(output, _CONTAINERS) and contains_node(output)
            ):
                data = to_data(output)
            if used and not self.traceable_code:
                hidden = self._check_external(used, inputs, start)
        result = new_message_node(data, inputs, self._node_description, self._op_name, self)
        if info_output is not None:
            result._info = {**self.node_info(), "output": info_output}
        if hidden:
            result._set_hidden_dependencies(hidden)
        return result

    def _check_external(
        self, used: list[Node], inputs: dict[str, Node], start: int
    ) -> set[ParameterNode]:
        known = {id(value) for value in inputs.values()}
        external = {id(n): n for n in used if n._seq < start and id(n) not in known}
        if not external:
            return set()
        allowed = self.allow_external_dependencies or _external_dependencies_check["disabled"]
        if not allowed:
            names = ", ".join(sorted(n.name for n in external.values()))
            raise TraceMissingInputsError(
                f"{self.name}() used node(s) {names} without receiving them as inputs, so they "
                "would get no feedback. Pass them as arguments, or decorate with "
                "bundle(allow_external_dependencies=True) (external parameters then receive "
                "feedback as hidden dependencies)."
            )
        return {n for n in external.values() if isinstance(n, ParameterNode)}

    @staticmethod
    def _hidden_parameters(output: Node, inputs: dict[str, Node]) -> set[ParameterNode]:
        visible: set[ParameterNode] = set()
        for value in inputs.values():
            visible |= value.parameter_dependencies
        return output.parameter_dependencies - visible

    def _fail(self, error: Exception, inputs: dict[str, Node]) -> None:
        if not self.catch_execution_error:
            raise error
        root = error
        if isinstance(error, ExecutionError) and error.exception is not None:
            root = error.exception
        info = self.node_info()
        info["error_comment"] = self._annotate(root)
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
        raise ExecutionError(exception_node) from error

    def _annotate(self, error: BaseException) -> str:
        if self.parameter is not None and isinstance(error, (SyntaxError, SandboxError)):
            filename = error.filename if isinstance(error, SyntaxError) else None
            return sources.annotate_error(error, self.parameter._data, filename)
        compiled = self._compiled
        if compiled is not None and compiled[2]:
            return sources.annotate_error(error, compiled[0], compiled[2])
        code = getattr(self._fun, "__code__", None)
        if self.parameter is not None and code is not None:
            first_line = sources.definition_line(self._fun)
            if first_line is not None:
                return sources.annotate_error(
                    error, self.parameter._data, code.co_filename, first_line
                )
        if code is None:
            return sources.annotate_error(error, None, None)
        try:
            text = inspect.getsource(self._fun)
        except (OSError, TypeError):
            text = self._original_source
        return sources.annotate_error(error, text, code.co_filename, code.co_firstlineno)

    # -- methods, copies, pickling ---------------------------------------------------------

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        key = _BOUND_PREFIX + self.name
        instance_dict = getattr(obj, "__dict__", None)
        if instance_dict is not None:
            bound = instance_dict.get(key)
            if bound is not None and bound.module._fun is self._fun:
                return bound
        bound = BoundFunModule(self._for_instance(), obj)
        if instance_dict is not None:
            instance_dict[key] = bound
        return bound

    def _for_instance(self) -> FunModule:
        """Each instance gets its own ``__code`` parameter (Trace issue #30)."""
        if self.parameter is None:
            return self
        duplicate = copy.copy(self)
        duplicate._lock = threading.Lock()
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
            self._compiled = (self._initial_code, self._fun, "", _ORIGINAL)

    def __repr__(self) -> str:
        kind = "trainable bundle" if self.trainable else "bundle"
        return f"<{kind} {self.name}>"


class BoundFunModule:
    """A bundled method bound to an instance; the instance is the ``self`` input."""

    def __init__(self, module: FunModule, instance: Any) -> None:
        self.module = module
        self.__self__ = instance
        self._self_node: Node | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._self_node is None:
            self._self_node = new_root(self.__self__)
        return self.module.forward(self._self_node, *args, **kwargs)

    @property
    def __func__(self) -> FunModule:
        return self.module

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("module", "_self_node"):
            raise AttributeError(name)
        return getattr(self.module, name)

    def __repr__(self) -> str:
        return f"<bound {self.module!r} of {type(self.__self__).__name__}>"


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
        return found._fun if isinstance(found, FunModule) else found


def _shallow_detach(value: Node) -> Node:
    """A new root with the same data: what traceable code computes on."""
    return new_root(value._data, f"{value.py_name}_copy")


def _container_node(value: Any) -> Node:
    """A list/tuple/dict/set argument holding nodes becomes a traced container node."""
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
    if isinstance(item, (list, tuple, dict, set, frozenset)) and contains_node(item):
        return _container_node(item)
    return item
