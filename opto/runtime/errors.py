"""Typed errors of running generated code. Messages are written to be fed back to an LLM:
what happened, the limit involved and the line of the code when it is known."""

from __future__ import annotations

from dataclasses import dataclass

from opto.utils.errors import OptoError


class SandboxError(OptoError):
    """Base class: running a piece of generated code under a policy failed.

    ``message`` is written for the LLM that wrote the code: what happened and what to change.
    ``line`` is the 1-based line of the generated code where it happened, when known;
    ``output`` is the tail of what the code printed (subprocess policy only).
    """

    def __init__(self, message: str, *, line: int | None = None, output: str = "") -> None:
        self.line = line
        self.output = output
        super().__init__(message)

    @property
    def feedback(self) -> str:
        """The message plus the tail of the code's output: text an optimizer can act on."""
        text = str(self)
        if self.output.strip():
            text += f"\n\nOutput of the code before it stopped:\n{self.output.rstrip()}"
        return text

    def __reduce__(self):
        # Subclasses take keyword arguments; rebuild from the message and attributes instead.
        return (_restore, (type(self), str(self), self.__dict__.copy()))


def _restore(cls: type[SandboxError], message: str, state: dict) -> SandboxError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


def _at(line: int | None) -> str:
    return f" (at line {line} of the code)" if line else ""


class TimeLimitExceeded(SandboxError, TimeoutError):
    """The code ran longer than its wall-clock time limit and was stopped (or abandoned).

    ``limit`` is the limit in seconds; ``detail`` is added to the message (what was running);
    ``line`` and ``output`` as in :class:`SandboxError`.
    """

    def __init__(
        self, limit: float, *, detail: str = "", line: int | None = None, output: str = ""
    ) -> None:
        self.limit = limit
        message = (
            f"The code did not finish within its wall-clock time limit of {limit:g} s and was "
            "stopped. Look for infinite loops, waiting on input, or work that is far too slow."
        )
        super().__init__(message + (f" {detail}" if detail else ""), line=line, output=output)


class CPUTimeLimitExceeded(SandboxError):
    """The code used more CPU time than allowed and was stopped by the kernel.

    ``limit`` is the CPU limit in seconds; ``line`` and ``output`` as in :class:`SandboxError`.
    """

    def __init__(self, limit: float, *, line: int | None = None, output: str = "") -> None:
        self.limit = limit
        super().__init__(
            f"The code used more than its CPU time limit of {limit:g} s and was stopped. "
            "Look for infinite loops or algorithms that are far too slow.",
            line=line,
            output=output,
        )


class MemoryLimitExceeded(SandboxError):
    """The code tried to use more memory than its limit allows.

    ``limit`` is the limit in bytes (None: the machine ran out); ``detail`` is added to the
    message; ``line`` and ``output`` as in :class:`SandboxError`.
    """

    def __init__(
        self, limit: int | None, *, detail: str = "", line: int | None = None, output: str = ""
    ) -> None:
        self.limit = limit
        bound = f"its memory limit of {format_bytes(limit)}" if limit else "the available memory"
        message = (
            f"The code tried to use more than {bound}{_at(line)} and was stopped. "
            "Avoid building very large lists, strings or arrays."
        )
        super().__init__(message + (f" {detail}" if detail else ""), line=line, output=output)


class ForbiddenOperationError(SandboxError, PermissionError):
    """The code attempted an operation the sandbox does not allow (network, processes, ...).

    ``operation`` names the refused operation (a system call or a Python audit event) and
    ``detail`` says it in words; ``line`` and ``output`` as in :class:`SandboxError`.
    """

    def __init__(
        self, operation: str, detail: str, *, line: int | None = None, output: str = ""
    ) -> None:
        self.operation = operation
        self.detail = detail
        super().__init__(
            f"The code attempted a forbidden operation{_at(line)}: {detail} ({operation}). "
            "Generated code may not use the network, start processes or programs, send "
            "signals, or write files outside its temporary working directory; it was stopped.",
            line=line,
            output=output,
        )


class SandboxCrashError(SandboxError):
    """The process running the code ended without returning a result.

    ``reason`` says how it ended; ``exit_code`` is its exit status and ``signal_name`` the
    signal that killed it, when known; ``line`` and ``output`` as in :class:`SandboxError`.
    """

    def __init__(
        self,
        reason: str,
        *,
        exit_code: int | None = None,
        signal_name: str | None = None,
        line: int | None = None,
        output: str = "",
    ) -> None:
        self.exit_code = exit_code
        self.signal_name = signal_name
        super().__init__(
            f"The process running the code ended abnormally: {reason}. The function must "
            "return a value instead of ending or crashing the process.",
            line=line,
            output=output,
        )


class UnsafeCodeError(SandboxError):
    """The static check refused the code before it ran; ``violations`` lists every finding."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = list(violations)
        first = self.violations[0].line if self.violations else None
        listing = "\n".join(f"  - {v}" for v in self.violations)
        super().__init__(
            f"The code was refused by the safety check before running "
            f"({len(self.violations)} problem{'s' if len(self.violations) != 1 else ''}):\n"
            f"{listing}",
            line=first,
        )


@dataclass(frozen=True)
class Violation:
    """One finding of the static check: the 1-based ``line`` of the code, the ``message``
    saying what is not allowed and why, and the ``source_line`` it is on (shown to the LLM)."""

    line: int
    message: str
    source_line: str = ""

    def __str__(self) -> str:
        shown = f": `{self.source_line.strip()}`" if self.source_line.strip() else ""
        return f"line {self.line}{shown}: {self.message}"


class TransferError(SandboxError, TypeError):
    """Arguments, names or a result could not cross the process boundary."""


class FunctionNotFoundError(SandboxError, NameError):
    """The code does not define the function it is expected to define.

    ``function_name`` is the name expected; ``found`` the top-level functions the code does
    define, listed in the message so the LLM sees what it wrote instead.
    """

    def __init__(self, function_name: str, found: list[str] | None = None) -> None:
        self.function_name = function_name
        names = f" It defines: {', '.join(found)}." if found else ""
        super().__init__(
            f"The code does not define a top-level function named {function_name!r}.{names} "
            f"Keep the name and signature of {function_name!r}."
        )


class RemoteCodeError(SandboxError):
    """The code raised an exception whose type cannot be recreated in this process.

    ``type_name`` is its qualified type name, ``message`` its message and
    ``remote_traceback`` the traceback text; ``line`` and ``output`` as in
    :class:`SandboxError`.
    """

    def __init__(
        self,
        type_name: str,
        message: str,
        remote_traceback: str = "",
        *,
        line: int | None = None,
        output: str = "",
    ) -> None:
        self.type_name = type_name
        self.error_message = message
        self.remote_traceback = remote_traceback
        text = f"{type_name}: {message}" if message else type_name
        if remote_traceback:
            text += f"\n\n{remote_traceback.rstrip()}"
        super().__init__(text, line=line, output=output)


class SandboxUnavailableError(SandboxError, RuntimeError):
    """The sandbox cannot provide a guarantee that was required on this platform."""


class RemoteTraceback(OptoError):
    """Set as ``__cause__`` of an exception recreated from the sandbox: the child's traceback.

    ``text`` is the traceback as the child formatted it.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(text)

    def __str__(self) -> str:
        return f"\n\nTraceback inside the sandbox:\n{self.text.rstrip()}"


def format_bytes(count: int) -> str:
    """``count`` bytes in the unit it was given in: ``256_000_000`` -> ``'256 MB'``,
    ``268435456`` -> ``'256 MiB'``."""
    units = (("GB", 10**9), ("MB", 10**6), ("kB", 10**3))
    binary = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
    for unit, size in (*units, *binary):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    for unit, size in binary:
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"
