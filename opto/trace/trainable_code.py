"""Trainable code of a bundle: compiling it when it changes, and locating errors in it.

The compiled function is cached with the code string and the execution policy it was loaded
under, so a call compiles only when either changed. While the code is the original one and
runs in-process, the decorated function itself is used.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Callable
from typing import Any

from opto.runtime import ExecutionPolicy, InProcessPolicy, SandboxError, resolve_policy
from opto.runtime.source import code_filename
from opto.trace import source as sources
from opto.trace.nodes import ParameterNode

ORIGINAL = object()
"""Marks the decorated function itself standing for unchanged code (plain in-process runs)."""


def is_plain(policy: ExecutionPolicy) -> bool:
    """Whether ``policy`` runs code as plain Python would: in process, without guards (then
    the decorated function itself can stand for unchanged code)."""
    return type(policy) is InProcessPolicy and not policy.guarded


def fits(loaded_with: Any, policy: ExecutionPolicy) -> bool:
    """Whether code compiled under ``loaded_with`` (a policy, or ``ORIGINAL``) may run
    under ``policy`` without loading it again."""
    return loaded_with is policy or (loaded_with is ORIGINAL and is_plain(policy))


class TrainableCode:
    """The compiling and error-locating part of FunModule."""

    # Set by FunModule.__init__.
    _fun: Callable
    _fun_name: str
    _compiled: tuple[str, Callable, str, Any] | None
    _initial_code: str | None
    _lock: threading.Lock
    _original_source: str | None
    _site_locals: dict[str, Any]
    parameter: ParameterNode | None

    def _current_function(self) -> Callable:
        compiled = self._compiled
        if compiled is None:
            return self._fun
        code = self.parameter._data
        policy = resolve_policy(getattr(self.parameter, "execution_policy", None))
        if (compiled[0] is code or compiled[0] == code) and fits(compiled[3], policy):
            return compiled[1]
        with self._lock:
            compiled = self._compiled
            if compiled[0] == code and fits(compiled[3], policy):
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
        name = self._fun_name
        if not isinstance(code, str):
            raise TypeError(f"__code of {name} must be a string, got {type(code).__name__}")
        namespace = dict(getattr(self._fun, "__globals__", {}))
        namespace.update(self._site_locals)
        namespace.update(self._closure_values())
        namespace.pop(name, None)
        filename = code_filename(code, name)
        return policy.load(code, name, namespace, filename=filename), filename

    def _closure_values(self) -> dict[str, Any]:
        code = getattr(self._fun, "__code__", None)
        closure = getattr(self._fun, "__closure__", None) or ()
        values = {}
        for name, cell in zip(code.co_freevars if code else (), closure, strict=False):
            with contextlib.suppress(ValueError):
                values[name] = cell.cell_contents
        return values

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
