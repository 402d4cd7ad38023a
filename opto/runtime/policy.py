"""Execution policies: small strategy objects that turn a code string into a callable.

A bundle (or an optimizer, or a discovery loop) asks a policy to ``load`` a code string once
per new string and then calls the returned function like the original. Which policy applies
is decided by ``resolve_policy``: an explicit argument, else the innermost ``use_policy``
block of the current thread or task, else the global default (in-process, as Trace does).
"""

from __future__ import annotations

import functools
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from opto.runtime.errors import FunctionNotFoundError, RemoteTraceback, SandboxError
from opto.runtime.guards import DEFAULT_MEMORY_GROWTH, DEFAULT_TIMEOUT, CallLimits, guard
from opto.runtime.sizes import parse_size
from opto.utils.source_analysis import code_filename, compile_source


class ExecutionPolicy(ABC):
    """How generated code is compiled and run. Policies are immutable and thread-safe."""

    @abstractmethod
    def load(
        self,
        source: str,
        function_name: str,
        namespace: Mapping[str, Any] | None = None,
        *,
        filename: str | None = None,
    ) -> Callable[..., Any]:
        """Compile ``source`` and return a callable running ``function_name`` under this policy.

        ``namespace`` holds the globals the code may use (for a bundle: the wrapped function's
        module globals and captured locals); it is copied, never modified. Raises
        ``SyntaxError`` for code that does not parse, ``FunctionNotFoundError`` when the code
        does not define the function, ``UnsafeCodeError`` when a static check refuses it.
        Load once per code string and keep the callable: loading is the expensive part.
        ``filename`` is the pseudo file name tracebacks show for the code (default: one made
        from the code and the function name, so that errors can point at its lines).
        """

    def run(
        self,
        source: str,
        function_name: str,
        args: tuple = (),
        kwargs: Mapping[str, Any] | None = None,
        namespace: Mapping[str, Any] | None = None,
    ) -> Any:
        """Load and call once: ``function_name(*args, **kwargs)`` defined by ``source``, with
        ``namespace`` as the code's globals (see :meth:`load`)."""
        return self.load(source, function_name, namespace)(*args, **dict(kwargs or {}))


class InProcessPolicy(ExecutionPolicy):
    """Run the code in this interpreter, as Trace does (the default), with guards.

    The code is executed once per load into a copy of ``namespace``; top-level imports and
    helper functions in the code string work, and the function sees the same objects as the
    rest of the program. There is no isolation: the code can do anything this process can.

    Each call is guarded (``opto.runtime.guards``): ``timeout`` seconds of wall-clock time
    (default 60) and ``memory_growth`` (bytes, or a size such as ``"512MiB"``; default 2 GiB)
    of growth of the process's resident memory during the call. A call over a limit is
    stopped with ``TimeLimitExceeded`` or ``MemoryLimitExceeded``, which a bundle feeds back
    to the optimizer. ``None`` switches a limit off; ``InProcessPolicy(None, None)`` runs the
    code exactly as Trace does. Guards stop Python code, not every C call: they are not
    containment (the subprocess policy is).
    """

    def __init__(
        self,
        timeout: float | None = DEFAULT_TIMEOUT,
        memory_growth: int | str | None = DEFAULT_MEMORY_GROWTH,
    ) -> None:
        if isinstance(memory_growth, str):
            memory_growth = parse_size(memory_growth)
        self.limits = CallLimits(timeout, memory_growth)

    @property
    def timeout(self) -> float | None:
        """The wall-clock limit of one call in seconds (None: none)."""
        return self.limits.timeout

    @property
    def memory_growth(self) -> int | None:
        """The allowed growth of resident memory during one call, in bytes (None: none)."""
        return self.limits.memory_growth

    @property
    def guarded(self) -> bool:
        """Whether calls run under a time or memory limit."""
        return self.limits.active

    def guard(self, function: Callable[..., Any], filename: str | None = None) -> Callable:
        """``function`` under this policy's guards (``function`` itself when there are none).

        ``filename`` names the code string ``function`` was compiled from, so that an error
        can say at which line of it the call was stopped.
        """
        return guard(function, self.limits, filename)

    def load(
        self,
        source: str,
        function_name: str,
        namespace: Mapping[str, Any] | None = None,
        *,
        filename: str | None = None,
    ) -> Callable[..., Any]:
        filename = filename or code_filename(source, function_name)
        code = compile_source(source, filename)
        scope = dict(namespace) if namespace else {}
        scope.setdefault("__name__", "__generated__")
        before = set(scope)
        self.guard(functools.partial(exec, code, scope), filename)()  # top-level statements
        function = scope.get(function_name)
        if not callable(function):
            defined = [
                name for name, value in scope.items() if callable(value) and name not in before
            ]
            raise FunctionNotFoundError(function_name, defined)
        return self.guard(function, filename)

    def __repr__(self) -> str:
        return f"InProcessPolicy(timeout={self.timeout!r}, memory_growth={self.memory_growth!r})"


def feedback_text(error: BaseException) -> str:
    """Describe an error raised while loading or running generated code, for an LLM.

    Sandbox errors give their own message; other exceptions give ``Type: message`` and the
    traceback frames that lie inside the generated code (or the sandbox's traceback text).
    """
    if isinstance(error, SandboxError):
        return error.feedback
    summary = "".join(traceback.format_exception_only(type(error), error)).strip()
    cause = error.__cause__
    if isinstance(cause, RemoteTraceback):
        return f"{summary}\n\nTraceback:\n{cause.text.rstrip()}"
    frames = [  # frames in pseudo files ("<generated code ...>", "<string>") are the code's
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename.startswith("<")
    ]
    if not frames:
        return summary
    listing = "".join(traceback.format_list(frames)).rstrip()
    return f"{summary}\n\nTraceback (generated code frames):\n{listing}"
