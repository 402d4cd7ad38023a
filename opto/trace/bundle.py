"""@bundle: turn a Python function into one traced operation, optionally with trainable code.

Calling a bundled function wraps its arguments as nodes named after the parameters, runs the
function on their data, and returns one MessageNode whose parents are those inputs. With
``trainable=True`` the function's source is a ParameterNode (``__code``) an optimizer can
rewrite; the function is recompiled when, and only when, that string changes.

Everything that can be worked out once (signature, names, descriptions, source) is worked out
when the function is decorated, so a call costs a few microseconds. Nothing about a call is
stored on the bundle, so threads and asyncio tasks can call it concurrently.

This module holds the decoration (``bundle``, FunModule's construction and what it exposes).
The other parts are each in a module of their own: the call paths in bundle_call.py, the
steps of a call that Trace exposes as methods (``preprocess_inputs``, ``wrap`` ...) in
bundle_steps.py, compiling and caching trainable code in trainable_code.py, locating an
error in that code in code_errors.py, methods, copies and pickling in bundle_binding.py.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from opto.runtime import make_policy
from opto.trace import source as sources
from opto.trace.abstract_node import USED_NODES, get_op_name
from opto.trace.binding import ArgumentBinder
from opto.trace.bound_method import BoundFunModule
from opto.trace.broadcast import detach_inputs, wrap_node
from opto.trace.bundle_binding import BundleBinding, FunctionReference
from opto.trace.bundle_call import BundleCalls
from opto.trace.bundle_steps import FunModuleSteps
from opto.trace.code_spec import CodeSpec
from opto.trace.containers import RESERVED_PREFIX, BundledFunction, to_data
from opto.trace.errors import TraceMissingInputsError
from opto.trace.frame_locals import update_local
from opto.trace.graph import GRAPH
from opto.trace.modules import Module
from opto.trace.nodes import Node, ParameterNode
from opto.trace.trainable_code import CompiledCode, TrainableCode
from opto.utils.source_analysis import code_header

__all__ = [
    "ALLOW_EXTERNAL_DEPENDENCIES",
    "GRAPH",
    "BoundFunModule",
    "FunModule",
    "bundle",
    "detach_inputs",
    "disable_external_dependencies_check",
    "to_data",
    "trace_nodes",
    "update_local",
    "wrap_node",
]

ALLOW_EXTERNAL_DEPENDENCIES: bool | None = None
"""Process-wide override of ``allow_external_dependencies``: None uses each bundle's own
setting, True allows nodes read without being inputs in every bundle, False forbids it in
every bundle. Set it with ``disable_external_dependencies_check``."""

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
    here = inspect.currentframe()
    frame = here.f_back if here is not None else None
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    if frame is None or frame.f_locals is frame.f_globals:
        return {}
    return {key: value for key, value in dict(frame.f_locals).items() if key != "__builtins__"}


class FunModule(BundleCalls, BundleBinding, FunModuleSteps, TrainableCode, Module, BundledFunction):
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
        self._compiled: CompiledCode | None = None
        self._lock = threading.Lock()
        self._site_locals: dict[str, Any] = {}
        if trainable:
            code = sources.function_source(fun, source)
            self._site_locals = dict(_ldict) if _ldict is not None else _decoration_site_locals()
            self.parameter = ParameterNode(
                code,
                name="__code",
                description="The code should start with:\n" + code_header(code),
                projections=projections,
                code_spec=CodeSpec(
                    self._fun_name,
                    self._signature,
                    None if policy is None else make_policy(policy),
                ),
            )
            self._compiled = CompiledCode.original(code, fun)
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

    def __repr__(self) -> str:
        kind = "trainable bundle" if self.trainable else "bundle"
        return f"<{kind} {self._fun_name}>"


# Pickles written before bundle_binding.py existed name the reference class here.
_FunctionReference = FunctionReference
