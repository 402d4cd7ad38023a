"""The subprocess sandbox: every call of generated code runs in a fresh, confined process.

Per call, the parent starts ``python -I -u`` running ``_child`` in a new session with a fresh
temporary working directory, a minimal environment (no API keys) and pipes; it sends the code,
the names it uses and the arguments by pickle, and waits at most ``wall_time`` before killing
the whole process group. The child confines itself before it unpickles or runs anything (see
``_confine`` and ``_guard``). Its answer is decoded with an allow-listing unpickler
(``_wire``), because a hostile child can forge it. Docs: docs/runtime.md.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import marshal
import math
import os
import pickle
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
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
from opto.runtime.policy import ExecutionPolicy
from opto.runtime.source import (
    code_filename,
    find_function,
    parse,
    referenced_names,
    signature_of,
    top_level_names,
)

_HERE = Path(__file__).parent
_CHILD_MODULES = ("_confine", "_guard", "_child")
# The child's first input is its own code, compiled once here and marshalled: it neither
# compiles nor looks up anything per call (PYTHONDONTWRITEBYTECODE would defeat .pyc files).
_STARTER = """\
import marshal, os, sys
size, data = int(sys.argv[1]), b""
while len(data) < size:
    chunk = os.read(0, size - len(data))
    if not chunk:
        os._exit(71)
    data += chunk
for name, code in marshal.loads(data):
    module = sys.modules[name] = type(sys)(name)
    exec(code, module.__dict__)
sys.modules["_child"].entry()
"""
# Confinement layers, in the order the child applies them (see docs/runtime.md).
LAYERS = ("limits", "namespaces", "landlock", "seccomp", "audit_hook")
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
}
_OUTPUT_ENV = {
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


def parse_size(value: int | str | None) -> int | None:
    """``"256MB"`` -> 256_000_000, ``"1GiB"`` -> 1_073_741_824; ints are bytes."""
    if value is None or isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    unit = match.group(2).lower() if match else None
    if unit not in _UNITS:
        raise ValueError(
            f"Cannot read {value!r} as a size; write e.g. 268435456, '256MB' or '1GiB'."
        )
    return int(float(match.group(1)) * _UNITS[unit])


@dataclass(frozen=True, eq=False)  # compared and hashed by identity, like other policies
class SubprocessPolicy(ExecutionPolicy):
    """Run each call in a fresh child process with resource limits and no network.

    ``wall_time`` (seconds, enforced by this process, includes interpreter start-up),
    ``cpu_time`` (seconds of CPU, enforced by the kernel), ``memory`` (address space),
    ``file_size`` (largest file the code may write), ``work_dir_size`` (total size of the
    working directory, where Linux namespaces allow a tmpfs) accept None for "no limit"; sizes are
    bytes or strings like ``"256MB"``. ``max_processes`` bounds the tasks (threads) of the
    child where the kernel enforces it. ``require`` names layers (see ``LAYERS``) that must
    be active, else the call raises ``SandboxUnavailableError`` before any code runs.
    ``disable_layers`` switches layers off (diagnosis only: it weakens containment).
    ``result_types`` adds ``"module.Class"`` names the child may return besides plain data;
    ``"numpy.ndarray"`` admits numpy arrays. ``echo_output`` replays what the code printed
    on this process's stdout, as in-process code would print. ``env`` adds environment
    variables (none of this process's are passed). ``python`` is the interpreter to run
    (default: this one); it receives this process's ``sys.path``, so use the same version.
    """

    wall_time: float = 10.0
    cpu_time: float | None = 10.0
    memory: int | str | None = "1GiB"
    file_size: int | str | None = "64MiB"
    work_dir_size: int | str | None = "64MiB"
    max_processes: int = 32
    open_files: int = 256
    max_result_size: int | str = "64MiB"
    max_output_chars: int = 20_000
    result_types: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    disable_layers: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    python: str | None = None
    echo_output: bool = True

    def __post_init__(self) -> None:
        if not self.wall_time or self.wall_time <= 0:
            raise ValueError(
                f"wall_time must be a positive number of seconds, got {self.wall_time!r}"
            )
        if self.cpu_time is not None and self.cpu_time <= 0:
            raise ValueError(f"cpu_time must be positive or None, got {self.cpu_time!r}")
        for name in ("memory", "file_size", "work_dir_size", "max_result_size"):
            object.__setattr__(self, name, parse_size(getattr(self, name)))
        for name in ("result_types", "require", "disable_layers"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        unknown = sorted((set(self.require) | set(self.disable_layers)) - set(LAYERS))
        if unknown:
            raise ValueError(f"Unknown sandbox layer(s) {unknown}; the layers are {list(LAYERS)}.")
        object.__setattr__(self, "_allowed_results", _wire.allowed_globals(self.result_types))

    def load(
        self,
        source: str,
        function_name: str,
        namespace: Mapping[str, Any] | None = None,
        *,
        filename: str | None = None,
    ) -> Callable[..., Any]:
        """Check that the code parses and defines the function; nothing runs until a call."""
        filename = filename or code_filename(source, function_name)
        tree = parse(source, filename)
        definition = find_function(tree, function_name)
        bound = top_level_names(tree)
        if definition is None and function_name not in bound:
            defined = [
                s.name for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            raise FunctionNotFoundError(function_name, defined)
        scope = dict(namespace or {})
        wanted = referenced_names(tree) - set(bound)
        call = _SandboxCall(self, source, function_name, filename, scope, wanted)
        return _wrap(call, source, function_name, definition)

    def probe(self) -> dict[str, str]:
        """Run a trivial call and return which confinement layers took effect (and why not)."""
        call = _SandboxCall(self, "def probe():\n    return None\n", "probe", "<probe>", {}, set())
        return call.execute((), {})[1]

    def __repr__(self) -> str:
        return (
            f"SubprocessPolicy(wall_time={self.wall_time!r}, cpu_time={self.cpu_time!r}, "
            f"memory={self.memory!r})"
        )


def _wrap(call: _SandboxCall, source: str, name: str, definition) -> Callable[..., Any]:
    """A real function object (so ``inspect`` sees a signature and async-ness) calling ``call``."""
    if definition is not None and isinstance(definition, ast.AsyncFunctionDef):

        async def sandboxed_async(*args: Any, **kwargs: Any) -> Any:
            import asyncio  # only coroutines need it; importing it costs ~20 ms

            return await asyncio.to_thread(call, args, kwargs)

        wrapper: Callable[..., Any] = sandboxed_async
    else:

        def sandboxed(*args: Any, **kwargs: Any) -> Any:
            return call(args, kwargs)

        wrapper = sandboxed
    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = ast.get_docstring(definition) if definition is not None else None
    if definition is not None:
        wrapper.__signature__ = signature_of(source, definition)  # type: ignore[attr-defined]
    wrapper.source = source  # type: ignore[attr-defined]
    wrapper.policy = call.policy  # type: ignore[attr-defined]
    return wrapper


class _SandboxCall:
    """One loaded code string: the prepared request, re-sent on every call."""

    def __init__(
        self,
        policy: SubprocessPolicy,
        source: str,
        function_name: str,
        filename: str,
        namespace: dict[str, Any],
        wanted: set[str],
    ) -> None:
        self.policy = policy
        self.filename = filename
        modules, values, untransferable = _pack_names(namespace, wanted)
        module_name = namespace.get("__name__")
        self.request = {
            "source": source,
            "function_name": function_name,
            "filename": filename,
            "module_name": module_name if isinstance(module_name, str) else "__generated__",
            "modules": modules,
            "values": values,
            "untransferable": untransferable,
        }

    def __call__(self, args: tuple, kwargs: dict) -> Any:
        return self.execute(args, kwargs)[0]

    def execute(self, args: tuple, kwargs: dict) -> tuple[Any, dict[str, str]]:
        try:
            arguments = pickle.dumps((args, kwargs), protocol=5)
        except Exception as error:
            raise TransferError(
                f"The arguments could not be sent to the sandbox ({type(error).__name__}: "
                f"{error}). Pass plain data: numbers, strings, lists, dicts, picklable objects."
            ) from error
        request = pickle.dumps({**self.request, "arguments": arguments}, protocol=5)
        run = _run_child(self.policy, self.filename, request)
        output = run.output
        if self.policy.echo_output and output and sys.stdout is not None:
            sys.stdout.write(output)
        message = _judge_exit(self.policy, run)
        try:
            failure, value = _from_message(self.policy, message, output)
            layers = {
                str(name)[:100]: str(state)[:1000]
                for name, state in message.get("layers", {}).items()
                if isinstance(name, str) and isinstance(state, str)
            }
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as error:
            raise SandboxCrashError(
                f"it sent a malformed report ({type(error).__name__}: {error})", output=output
            ) from None
        if failure is not None:
            raise failure
        return value, layers


def _pack_names(namespace: Mapping[str, Any], wanted: set[str]):
    """Split the names the code uses into modules (sent by name) and pickled values."""
    modules: dict[str, str] = {}
    values: dict[str, bytes] = {}
    untransferable: dict[str, str] = {}
    for name in sorted(wanted):
        if name not in namespace or (name.startswith("__") and name.endswith("__")):
            continue
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            if value.__name__ == "__main__":
                untransferable[name] = "the main script cannot be imported in the sandbox"
            else:
                modules[name] = value.__name__
            continue
        try:
            values[name] = pickle.dumps(value, protocol=5)
        except Exception as error:
            untransferable[name] = f"{type(error).__name__}: {error}"
    return modules, values, untransferable


# --- running the child -----------------------------------------------------------------------


@dataclass
class _ChildRun:
    data: bytes = b""
    timed_out: bool = False
    oversized: bool = False
    status: int | None = None
    cpu_seconds: float = 0.0
    output: str = ""


def _run_child(policy: SubprocessPolicy, filename: str, request: bytes) -> _ChildRun:
    if os.name != "posix":
        raise SandboxUnavailableError(
            "The subprocess sandbox needs a POSIX system (Linux for its full protection); "
            f"this is {sys.platform!r}. Use StaticCheckPolicy or InProcessPolicy(timeout=...)."
        )
    python = policy.python or sys.executable
    if not python:
        raise SandboxUnavailableError(
            "The subprocess sandbox needs a Python executable, but sys.executable is empty "
            "(embedded interpreter); pass SubprocessPolicy(python=...)."
        )
    base = tempfile.mkdtemp(prefix="opto-sandbox-")
    try:
        work = os.path.join(base, "work")
        os.mkdir(work, 0o700)
        config = _child_config(policy, work, filename)
        output_path = os.path.join(base, "output")
        with open(output_path, "wb") as output_file:
            run = _spawn_and_exchange(policy, python, work, config, request, output_file)
        run.output = _read_tail(output_path, policy.max_output_chars)
        return run
    finally:
        _remove_tree(base)


@functools.cache
def _child_code() -> bytes:
    """The child-side modules, compiled once per process and marshalled for the starter."""
    compiled = []
    for name in _CHILD_MODULES:
        path = _HERE / f"{name}.py"
        compiled.append((name, compile(path.read_bytes(), str(path), "exec", dont_inherit=True)))
    return marshal.dumps(compiled)


def _child_config(policy: SubprocessPolicy, work: str, filename: str) -> dict[str, Any]:
    cwd = os.getcwd()
    return {
        "work_dir": work,
        "filename": filename,
        "cpu_time": math.ceil(policy.cpu_time) if policy.cpu_time else None,
        "memory": policy.memory,
        "file_size": policy.file_size,
        "work_dir_size": policy.work_dir_size,
        "open_files": policy.open_files,
        "max_processes": policy.max_processes,
        "disable_layers": list(policy.disable_layers),
        "require": list(policy.require),
        "sys_path": [
            os.path.join(cwd, entry) if entry in ("", ".") else entry for entry in sys.path
        ],
    }


# How numeric libraries pick their CPU kernels (e.g. OPENBLAS_CORETYPE, NPY_DISABLE_CPU_FEATURES):
# passed on, so the child computes bit for bit like the parent. These prefixes hold no secrets.
_NUMERIC_ENV_PREFIXES = ("OPENBLAS_", "GOTO_", "MKL_", "NPY_")


def _child_env(policy: SubprocessPolicy, work: str) -> dict[str, str]:
    env = {"PATH": os.defpath, "HOME": work, "TMPDIR": work, "TMP": work, "TEMP": work}
    env.update(
        (name, value)
        for name, value in os.environ.items()
        if name.startswith(_NUMERIC_ENV_PREFIXES)
    )
    env.update(_OUTPUT_ENV)
    env["MPLCONFIGDIR"] = work
    env.update(policy.env)
    return env


def _spawn_and_exchange(policy, python, work, config, request, output_file) -> _ChildRun:
    started = time.monotonic()
    code = _child_code()
    try:
        process = subprocess.Popen(
            [python, "-I", "-u", "-B", "-c", _STARTER, str(len(code))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=output_file,
            cwd=work,
            env=_child_env(policy, work),
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        raise SandboxUnavailableError(
            f"The sandbox could not start the Python interpreter {python!r}: {error}"
        ) from error
    run = _ChildRun()
    try:
        payload = code + pickle.dumps(config, protocol=5) + request
        _exchange(process, payload, started + policy.wall_time, policy.max_result_size, run)
    finally:
        _kill_group(process)
        run.status, run.cpu_seconds = _reap(process)
    return run


def _exchange(process, payload: bytes, deadline: float, limit: int, run: _ChildRun) -> None:
    """Write the request and read the answer, never blocking past ``deadline``."""
    stdin, stdout = process.stdin, process.stdout
    os.set_blocking(stdin.fileno(), False)
    chunks: list[bytes] = []
    size, sent = 0, 0
    view = memoryview(payload)
    with selectors.DefaultSelector() as selector:
        selector.register(stdin, selectors.EVENT_WRITE)
        selector.register(stdout, selectors.EVENT_READ)
        while selector.get_map() and not run.oversized:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                run.timed_out = True
                break
            for key, _ in selector.select(remaining):
                if key.fileobj is stdin:
                    try:
                        sent += os.write(stdin.fileno(), view[sent : sent + (1 << 16)])
                    except BlockingIOError:
                        continue
                    except OSError:  # the child is gone; its exit status will tell why
                        sent = len(view)
                    if sent >= len(view):
                        selector.unregister(stdin)
                        _close(stdin)
                    continue
                chunk = os.read(stdout.fileno(), 1 << 16)
                if not chunk:
                    selector.unregister(stdout)
                    continue
                chunks.append(chunk)
                size += len(chunk)
                run.oversized = size > limit
    _close(stdin)
    _close(stdout)
    run.data = b"".join(chunks)


def _close(stream) -> None:
    with contextlib.suppress(OSError):
        stream.close()


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the child and anything it started (same session) before reaping it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            _close(stream)


def _reap(process: subprocess.Popen) -> tuple[int | None, float]:
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except ChildProcessError:  # something else in this process reaped it first
        process.returncode = -1
        return None, 0.0
    process.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    return status, usage.ru_utime + usage.ru_stime


def _read_tail(path: str, limit: int) -> str:
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        if size > limit * 4:
            handle.seek(size - limit * 4)
        text = handle.read().decode("utf-8", "replace")
    if len(text) > limit or size > limit * 4:
        return f"[... earlier output omitted ...]\n{text[-limit:]}"
    return text


def _remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.exists(path):
        return
    for directory, subdirectories, _ in os.walk(path):  # code may have made directories read-only
        for name in subdirectories:
            full = os.path.join(directory, name)
            if not os.path.islink(full):
                os.chmod(full, 0o700)
    shutil.rmtree(path, ignore_errors=True)


# --- judging the outcome ---------------------------------------------------------------------

_MAX_FIELD_CHARS = 50_000
_MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "out of memory", "std::bad_alloc")


def _judge_exit(policy: SubprocessPolicy, run: _ChildRun) -> dict:
    """The child's report, or the typed error for a child that ended without one."""
    output = run.output
    if run.timed_out:
        if policy.cpu_time and run.cpu_seconds >= policy.cpu_time:
            raise CPUTimeLimitExceeded(policy.cpu_time, output=output)
        raise TimeLimitExceeded(policy.wall_time, output=output)
    if run.oversized:
        raise TransferError(
            f"The sandbox's answer exceeded the {format_bytes(policy.max_result_size)} limit "
            "for results; return a smaller value.",
            output=output,
        )
    message = None
    if run.data:
        try:
            message = _wire.plain_loads(run.data)
        except Exception:
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


def _from_message(policy: SubprocessPolicy, message: dict, output: str) -> tuple[Any, Any]:
    """``(error, None)`` or ``(None, result)``; KeyError/TypeError mean a malformed report."""
    kind = message["kind"]
    line = message.get("line")
    line = line if isinstance(line, int) else None
    if kind == "ok":
        return _decode_result(policy, message["value"], _text(message, "type", "?"), output)
    if kind == "raised":
        return _rebuild_exception(policy, message, line, output), None
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
            f"back from the sandbox ({_text(message, 'detail')}). Return plain, picklable data."
        )
        return TransferError(text, output=output), None
    if kind == "unavailable":
        layers = message["layers"]
        missing = "; ".join(
            f"{name}: {layers.get(name, 'unknown')}" for name in message["missing"]
        )[:_MAX_FIELD_CHARS]
        text = (
            f"Required sandbox layers are not available on this system ({missing}). Run on a "
            "Linux kernel that offers them, or remove them from SubprocessPolicy(require=...)."
        )
        return SandboxUnavailableError(text), None
    return SandboxCrashError(f"it sent an unknown report kind {kind!r}", output=output), None


def _decode_result(
    policy: SubprocessPolicy, blob: bytes, kind: str, output: str
) -> tuple[Any, Any]:
    if not isinstance(blob, bytes):
        raise TypeError("the result is not a pickle")
    try:
        return None, _wire.safe_loads(blob, policy._allowed_results)  # type: ignore[attr-defined]
    except _wire.RefusedGlobal as refused:
        inner = refused.qualified_name
        allow = "numpy.ndarray" if inner.startswith("numpy") else inner
        part = "" if inner == kind else f" (it contains {inner})"
        text = (
            f"The function returned a value of type {kind}{part}, which is not accepted back "
            "from the sandbox. Return plain data (numbers, strings, lists, dicts, tuples, "
            f"sets), or allow the type with SubprocessPolicy(result_types=({allow!r},))."
        )
    except Exception as error:
        text = f"The sandbox's result could not be read: {type(error).__name__}: {error}"
    return TransferError(text, output=output), None


def _rebuild_exception(policy: SubprocessPolicy, message: dict, line, output: str) -> BaseException:
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
        args = _wire.plain_loads(message["args"]) if message.get("args") else (text,)
        error = kind(*args) if isinstance(args, tuple) else kind(text)
    except Exception:
        error = kind(text)
    error.__cause__ = RemoteTraceback(remote)
    error.sandbox_traceback = remote  # type: ignore[attr-defined]
    error.sandbox_output = output  # type: ignore[attr-defined]
    return error
