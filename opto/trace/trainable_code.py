"""Trainable code of a bundle: compiling it when it changes, and caching what was compiled.

The compiled function is cached with the code string and the execution policy it was loaded
under, so a call compiles only when either changed. While the code is the original one and
runs in-process, the decorated function itself is used.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opto.runtime import ExecutionPolicy, InProcessPolicy, resolve_policy
from opto.trace.nodes import ParameterNode
from opto.utils.source_analysis import code_filename

ORIGINAL = object()
"""Marks the decorated function itself standing for unchanged code (plain in-process runs)."""


@dataclass(frozen=True)
class CompiledCode:
    """The function last loaded from a bundle's code, and what it was loaded from.

    Attributes:
        code: the code string it was loaded from.
        function: the callable to run.
        filename: the name its code was compiled under ("" for the decorated function
            itself); tracebacks point there, so errors are located in ``code``.
        loaded_with: the execution policy it was loaded under, or ``ORIGINAL`` for the
            decorated function standing for unchanged code.
    """

    code: str
    function: Callable
    filename: str
    loaded_with: Any

    @classmethod
    def original(cls, code: str | None, function: Callable) -> CompiledCode:
        """The decorated function itself, standing for its unchanged ``code``."""
        return cls(code, function, "", ORIGINAL)

    def serves(self, code: Any, policy: ExecutionPolicy) -> bool:
        """Whether this function is what ``code`` under ``policy`` gives (no reload needed)."""
        return (self.code is code or self.code == code) and fits(self.loaded_with, policy)


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
    _compiled: CompiledCode | None
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
        policy = resolve_policy(self.parameter.code_spec.policy)
        if compiled.serves(code, policy):
            return compiled.function
        with self._lock:
            compiled = self._compiled
            if compiled.serves(code, policy):
                return compiled.function
            if code == self._initial_code and type(policy) is InProcessPolicy:
                # The decorated function itself, under the policy's guards: not recompiled.
                function = policy.guard(self._fun)
                self._compiled = CompiledCode(code, function, "", policy)
                return function
            function, filename = self._compile(code, policy)
            self._compiled = CompiledCode(code, function, filename, policy)
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
