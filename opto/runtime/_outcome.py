"""What a sandbox call came to: the child's answer, or the typed error for how the call ended.

The child may have been taken over by the code it ran, so nothing it says is trusted: its
answer is decoded by ``_wire`` within bounds (size, nesting, work and the call's deadline),
every field is type-checked and cut to a bounded length, and a child that ended without a
usable answer is described by how it ended (signal, exit code, closed answer channel), not
by what it claims.
"""

from __future__ import annotations

import builtins
import os
import signal
from dataclasses import dataclass
from typing import Any

from opto.runtime import _wire
from opto.runtime.errors import (
    CPUTimeLimitExceeded,
    ForbiddenOperationError,
    FunctionNotFoundError,
    MemoryLimitExceeded,
    RemoteCodeError,
    RemoteTraceback,
    SandboxCrashError,
    SandboxUnavailableError,
    TimeLimitExceeded,
    TransferError,
    format_bytes,
)

# Confinement layers, in the order the child applies them, with what each guarantees (see
# docs/runtime.md): the refusal to run without a layer says what is then not guaranteed.
GUARANTEES = {
    "limits": "kernel limits on CPU time, memory, file size, open files and processes",
    "namespaces": (
        "no network at all, a size-limited working directory, and no access to the "
        "environment (where API keys live) or other /proc files of your other processes"
    ),
    "landlock": "no writes, file creation or deletion outside the working directory",
    "seccomp": (
        "no new processes or programs, no sockets, no signals to other processes, no changes "
        "of file permissions, owners or times, no memory outside the memory limit (memfd)"
    ),
    "audit_hook": "a precise report of each forbidden operation with its line",
}
LAYERS = tuple(GUARANTEES)
_MAX_FIELD_CHARS = 50_000
_MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "out of memory", "std::bad_alloc")


@dataclass
class ChildRun:
    """What the parent observed of one child process. ``deadline`` (``time.monotonic``) bounds
    the whole call, decoding of the answer included; ``answer_closed`` means the child closed
    its answer channel without an answer and was still running when it was stopped."""

    deadline: float
    data: bytes = b""
    timed_out: bool = False
    oversized: bool = False
    answer_closed: bool = False
    status: int | None = None
    cpu_seconds: float = 0.0
    output: str = ""


def outcome(policy, run: ChildRun) -> tuple[Any, dict[str, str]]:
    """The call's result and the state of each confinement layer, or raise its error."""
    message = _judge_exit(policy, run)
    try:
        failure, value = _from_message(policy, message, run)
        layers = {
            str(name)[:100]: str(state)[:1000]
            for name, state in message.get("layers", {}).items()
            if isinstance(name, str) and isinstance(state, str)
        }
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as error:
        raise SandboxCrashError(
            f"it sent a malformed report ({type(error).__name__}: {error})", output=run.output
        ) from None
    if failure is not None:
        raise failure
    return value, layers


def _too_large(policy, output: str) -> TransferError:
    return TransferError(
        f"The sandbox's answer exceeded the {format_bytes(policy.max_result_size)} limit "
        "for results; return a smaller value.",
        output=output,
    )


def _late(policy, output: str) -> TransferError:
    return TransferError(
        f"The sandbox's answer could not be decoded within the wall-clock limit of "
        f"{policy.wall_time:g} s; return a smaller value.",
        output=output,
    )


def _judge_exit(policy, run: ChildRun) -> dict:
    """The child's report, or the typed error for a child that ended without one."""
    output = run.output
    if run.timed_out:
        if policy.cpu_time and run.cpu_seconds >= policy.cpu_time:
            raise CPUTimeLimitExceeded(policy.cpu_time, output=output)
        raise TimeLimitExceeded(policy.wall_time, output=output)
    if run.oversized:
        raise _too_large(policy, output)
    if run.data:
        try:
            message = _wire.decode(run.data, deadline=run.deadline)
        except _wire.DecodeTimeout:
            raise _late(policy, output) from None
        except _wire.WireError:
            message = None
        if isinstance(message, dict) and isinstance(message.get("kind"), str):
            return message
    status = run.status
    number = os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None
    if number == signal.SIGXCPU or (
        number == signal.SIGKILL and policy.cpu_time and run.cpu_seconds >= policy.cpu_time
    ):
        raise CPUTimeLimitExceeded(policy.cpu_time or 0.0, output=output)
    if any(sign in output for sign in _MEMORY_SIGNS):
        raise MemoryLimitExceeded(policy.memory, output=output)
    if number == signal.SIGXFSZ:
        reason = f"it wrote a file larger than the {format_bytes(policy.file_size or 0)} limit"
        raise SandboxCrashError(reason, signal_name="SIGXFSZ", output=output)
    if run.data:
        raise SandboxCrashError("it wrote an unreadable answer instead of a result", output=output)
    if run.answer_closed:
        raise SandboxCrashError(
            "it closed the channel its result is sent back on, without sending a result, and "
            "was stopped (do not close file descriptors the code did not open)",
            output=output,
        )
    if number is not None:
        name = _signal_name(number)
        hint = " (possibly the system's out-of-memory killer)" if number == signal.SIGKILL else ""
        raise SandboxCrashError(
            f"it was killed by signal {name}{hint}", signal_name=name, output=output
        )
    code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else status
    raise SandboxCrashError(
        f"it exited with code {code} before returning a result (for example by calling "
        "os._exit or closing its output)",
        exit_code=code,
        output=output,
    )


def _signal_name(number: int) -> str:
    try:
        name = signal.Signals(number).name
        description = signal.strsignal(number)
    except ValueError:
        return f"signal {number}"
    return f"{name} ({description})" if description else name


def _text(message: dict, key: str, default: str | None = None) -> str:
    """A string field of the child's report (which may be forged): checked and bounded."""
    value = message.get(key, default)
    if not isinstance(value, str):
        raise TypeError(f"the field {key!r} is not a string")
    return value[:_MAX_FIELD_CHARS]


def _from_message(policy, message: dict, run: ChildRun) -> tuple[Any, Any]:
    """``(error, None)`` or ``(None, result)``; KeyError/TypeError mean a malformed report."""
    output = run.output
    kind = message["kind"]
    line = message.get("line")
    line = line if isinstance(line, int) else None
    if kind == "ok":
        return _decode_result(policy, message["value"], _text(message, "type", "?"), run)
    if kind == "raised":
        return _rebuild_exception(policy, message, line, run), None
    if kind == "forbidden":
        operation, detail = _text(message, "operation"), _text(message, "detail")
        return ForbiddenOperationError(operation, detail, line=line, output=output), None
    if kind == "missing_function":
        defined = [name for name in message["defined"] if isinstance(name, str)]
        return FunctionNotFoundError(_text(message, "name"), defined[:100]), None
    if kind == "transfer":
        text = f"The sandbox could not rebuild its inputs: {_text(message, 'detail')}"
        return TransferError(text, output=output), None
    if kind == "unpicklable":
        text = (
            f"The function returned a value of type {_text(message, 'type')} that cannot be sent "
            f"back from the sandbox ({_text(message, 'detail')}). Return plain data: numbers, "
            "strings, lists, tuples, dicts, sets, nested at most "
            f"{_wire.MAX_DEPTH} levels deep."
        )
        return TransferError(text, output=output), None
    if kind == "too_large":
        return _too_large(policy, output), None
    if kind == "unavailable":
        return _unavailable(message), None
    return SandboxCrashError(f"it sent an unknown report kind {kind!r}", output=output), None


def _unavailable(message: dict) -> SandboxUnavailableError:
    """The refusal to run without a required layer: which is missing, why, what it would
    have guaranteed, what remains, and how to run with less."""
    states = {
        name: str(state)[:300]
        for name, state in message["layers"].items()
        if name in GUARANTEES and isinstance(state, str)
    }
    missing = [name for name in LAYERS if name in message["missing"]]
    remaining = tuple(name for name in LAYERS if states.get(name, "").startswith("on"))
    lines = "\n".join(
        f"- {name}: {states.get(name, 'unknown')}. Not guaranteed without it: {GUARANTEES[name]}."
        for name in missing
    )
    return SandboxUnavailableError(
        "The sandbox refused to run the code: this system cannot confine it as documented.\n"
        f"{lines}\nWhat remains: the wall-clock limit and {', '.join(remaining) or 'no layer'}. "
        f"To run with only these, pass SubprocessPolicy(require={remaining!r}); "
        "docs/runtime.md says what each layer guarantees."
    )


def _decode_result(policy, blob: bytes, kind: str, run: ChildRun) -> tuple[Any, Any]:
    if not isinstance(blob, bytes):
        raise TypeError("the result is not encoded")
    allowed = policy._allowed_results  # type: ignore[attr-defined]
    try:
        return None, _wire.decode(blob, allowed, deadline=run.deadline)
    except _wire.RefusedGlobal as refused:
        inner = refused.qualified_name
        allow = "numpy.ndarray" if inner.startswith("numpy") else inner
        part = "" if inner == kind else f" (it contains {inner})"
        text = (
            f"The function returned a value of type {kind}{part}, which is not accepted back "
            "from the sandbox. Return plain data (numbers, strings, lists, dicts, tuples, "
            f"sets), or allow the type with SubprocessPolicy(result_types=({allow!r},))."
        )
    except _wire.DecodeTimeout:
        return _late(policy, run.output), None
    except _wire.WireError as error:
        text = f"The sandbox's result could not be read: {error}"
    return TransferError(text, output=run.output), None


def _rebuild_exception(policy, message: dict, line, run: ChildRun) -> BaseException:
    """The exception the child reported, rebuilt as a builtin type where it is one. Its
    ``args`` are decoded within the call's deadline like a result: a forged report must not
    hold the caller past ``wall_time``."""
    output = run.output
    module, name = _text(message, "type_module"), _text(message, "type_name")
    text, remote = _text(message, "message", ""), _text(message, "traceback", "")
    if module == "builtins" and name == "MemoryError":
        return MemoryLimitExceeded(policy.memory, line=line, output=output)
    if module == "builtins" and name in ("SystemExit", "KeyboardInterrupt"):
        return SandboxCrashError(
            f"the code raised {name}({text}), which would end the whole program",
            exit_code=None,
            line=line,
            output=output,
        )
    kind = getattr(builtins, name, None) if module == "builtins" else None
    if not (isinstance(kind, type) and issubclass(kind, Exception)):
        return RemoteCodeError(f"{module}.{name}", text, remote, line=line, output=output)
    try:
        args = (
            _wire.decode(message["args"], deadline=run.deadline) if message.get("args") else (text,)
        )
        error = kind(*args) if isinstance(args, tuple) else kind(text)
    except _wire.DecodeTimeout:
        return _late(policy, output)
    except Exception:
        error = kind(text)
    error.__cause__ = RemoteTraceback(remote)
    error.sandbox_traceback = remote  # type: ignore[attr-defined]
    error.sandbox_output = output  # type: ignore[attr-defined]
    return error
