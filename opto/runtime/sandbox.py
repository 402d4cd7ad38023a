"""The subprocess sandbox: every call of generated code runs in a fresh, confined process.

Per call, the parent starts ``python -I -u`` running ``_child`` in a new session with a fresh
temporary working directory, a minimal environment (no API keys) and pipes; it sends the code,
the names it uses (``_names``: no objects that may carry credentials) and the arguments by
pickle, and waits at most ``wall_time`` before killing the whole process group. The child
confines itself before it unpickles or runs anything (see ``_confine``, ``_seccomp`` and
``_guard``) and refuses to run when a required layer is not on. Its answer is in a bounded
format (``_wire_format``) that the parent decodes within limits (``_wire``, ``_outcome``),
because a hostile child can forge it. Docs: docs/runtime.md.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import logging
import marshal
import math
import os
import pickle
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opto.runtime import _wire
from opto.runtime._names import pack_names
from opto.runtime._outcome import LAYERS, ChildRun, outcome
from opto.runtime.errors import (
    FunctionNotFoundError,
    SandboxError,
    SandboxUnavailableError,
    TransferError,
)
from opto.runtime.policy import ExecutionPolicy
from opto.runtime.sizes import parse_size
from opto.runtime.source import (
    code_filename,
    find_function,
    parse,
    referenced_names,
    signature_of,
    top_level_names,
)

logger = logging.getLogger(__name__)

_HERE = Path(__file__).parent
_CHILD_MODULES = ("_seccomp", "_confine", "_guard", "_wire_format", "_child")
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
_EXIT_GRACE = 0.5  # seconds a child without an answer gets to exit before it is stopped
_OUTPUT_ENV = {
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


@dataclass(frozen=True, eq=False)  # compared and hashed by identity, like other policies
class SubprocessPolicy(ExecutionPolicy):
    """Run each call in a fresh child process with resource limits and no network.

    ``wall_time`` (seconds, enforced by this process, includes interpreter start-up),
    ``cpu_time`` (seconds of CPU, enforced by the kernel), ``memory`` (address space),
    ``file_size`` (largest file the code may write), ``work_dir_size`` (total size of the
    working directory, where Linux namespaces allow a tmpfs) accept None for "no limit"; sizes are
    bytes or strings like ``"256MB"``. ``max_processes`` bounds the tasks (threads) of the
    child, also when this process runs as root; ``open_files`` bounds its open file
    descriptors. ``max_result_size`` (bytes or a size string) bounds the encoded return value
    the child sends back, and ``max_output_chars`` how much of the tail of what the code
    printed is kept for the error message. ``require`` names layers (see ``LAYERS``) that
    must be fully on, else the call raises ``SandboxUnavailableError`` naming what is missing
    before any code runs; by default (None) every layer not in ``disable_layers`` is required,
    so the sandbox fails closed: pass fewer layers to accept less protection knowingly.
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
    require: tuple[str, ...] | None = None
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
        if self.require is None:
            wanted = tuple(name for name in LAYERS if name not in self.disable_layers)
            object.__setattr__(self, "require", wanted)
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
        """Check that ``source`` parses and defines ``function_name``; nothing runs until a
        call, and each call runs the code in a new child process.

        ``namespace`` supplies the globals the code uses; only the names the code references
        are sent to the child, and they must be plain data or importable objects.
        ``filename`` is the pseudo file name tracebacks show (default: one made from the
        code and the function name).
        """
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
        """Run a trivial call and return the state of each confinement layer: "on",
        "partial: ..." or why it is off (it runs even when a required layer is missing)."""
        lenient = dataclasses.replace(self, require=())
        code = "def probe():\n    return None\n"
        return _SandboxCall(lenient, code, "probe", "<probe>", {}, set()).execute((), {})[1]

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
        modules, values, untransferable = pack_names(namespace, wanted)
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
        try:
            run = _run_child(self.policy, self.filename, request)
            if self.policy.echo_output and run.output and sys.stdout is not None:
                sys.stdout.write(run.output)
            return outcome(self.policy, run)
        except SandboxError as error:
            name = self.request["function_name"]
            logger.info("sandboxed call of %s failed: %s: %s", name, type(error).__name__, error)
            raise


# --- running the child -----------------------------------------------------------------------


def _run_child(policy: SubprocessPolicy, filename: str, request: bytes) -> ChildRun:
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
        "max_result_size": policy.max_result_size,
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


def _spawn_and_exchange(policy, python, work, config, request, output_file) -> ChildRun:
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
    run = ChildRun(deadline=started + policy.wall_time)
    try:
        payload = code + pickle.dumps(config, protocol=5) + request
        _exchange(process, payload, run.deadline, policy.max_result_size, run)
        if not (run.data or run.timed_out or run.oversized):
            until = min(run.deadline, time.monotonic() + _EXIT_GRACE)
            run.answer_closed = not _ends_by_itself(process, until)
    finally:
        _kill_group(process)
        run.status, run.cpu_seconds = _reap(process)
    return run


def _exchange(process, payload: bytes, deadline: float, limit: int, run: ChildRun) -> None:
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


def _ends_by_itself(process: subprocess.Popen, until: float) -> bool:
    """Whether the child ends (without being reaped) before ``until``: its answer channel
    closed with no answer, which happens as it exits, or because the code closed it."""
    while True:
        try:
            if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                return True
        except ChildProcessError:
            return True
        if time.monotonic() >= until:
            return False
        time.sleep(0.005)


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
