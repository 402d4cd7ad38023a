"""One sandbox child process, from its start to its clean-up (the parent's side).

``start`` makes a fresh working directory and starts ``python -I -u -B`` running the starter,
in a new session, with a minimal environment; the child's start-up input (its own modules,
compiled here and marshalled, then its configuration) is queued. ``Child.run`` sends the
request, reads the answer without blocking past the call's deadline, then kills the child's
whole process group, reaps it and removes its directory. A cold call does both at once; a warm
pool (``_pool``) starts children ahead, lets them confine themselves and import, and hands
each to exactly one call.
"""

from __future__ import annotations

import contextlib
import functools
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opto.runtime._outcome import ChildRun
from opto.runtime.errors import SandboxUnavailableError

_HERE = Path(__file__).parent
_CHILD_MODULES = ("_seccomp", "_confine", "_guard", "_wire_format", "_child")
# The child's first input is its own code, compiled once here and marshalled: it neither
# compiles nor looks up anything per call (PYTHONDONTWRITEBYTECODE would defeat .pyc files).
STARTER = """\
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
_READY = b"\x06"  # the child's first byte once confined and preloaded (``_child.READY``)
_EXIT_GRACE = 0.5  # seconds a child without an answer gets to exit before it is stopped
_F_SETPIPE_SZ = 1031  # Linux: a pipe large enough for the start-up input needs no waiting
_OUTPUT_ENV = {
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
# How numeric libraries pick their CPU kernels (e.g. OPENBLAS_CORETYPE, NPY_DISABLE_CPU_FEATURES):
# passed on, so the child computes bit for bit like the parent. These prefixes hold no secrets.
_NUMERIC_ENV_PREFIXES = ("OPENBLAS_", "GOTO_", "MKL_", "NPY_")


@dataclass(frozen=True)
class Launch:
    """What a child is started with besides its policy, read from this process when it starts:
    a warm child started before one of these changed is not used for a later call."""

    python: str
    sys_path: tuple[str, ...]
    numeric_env: tuple[tuple[str, str], ...]


def current_launch(policy) -> Launch:
    """The launch settings a child started now would get; raises ``SandboxUnavailableError``
    where the sandbox cannot run at all."""
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
    cwd = os.getcwd()
    sys_path = tuple(
        os.path.join(cwd, entry) if entry in ("", ".") else entry for entry in sys.path
    )
    numeric = tuple(
        sorted((k, v) for k, v in os.environ.items() if k.startswith(_NUMERIC_ENV_PREFIXES))
    )
    return Launch(python, sys_path, numeric)


class Child:
    """A started child process with its working directory, used for at most one request."""

    def __init__(self, process: subprocess.Popen, base: str, output, pending: bytes, launch):
        self.process = process
        self.base = base
        self.output_file = output
        self.pending = pending
        self.launch = launch
        self.ready = False

    def send_startup(self, deadline: float) -> bool:
        """Write the queued start-up input before ``deadline``, so the child confines itself
        and imports while it waits for a request; False if it could not (the child is unusable)."""
        stdin = self.process.stdin
        with contextlib.suppress(OSError):  # the size is an optimisation only
            import fcntl

            fcntl.fcntl(stdin.fileno(), _F_SETPIPE_SZ, 1 << max(16, len(self.pending).bit_length()))
        os.set_blocking(stdin.fileno(), False)
        view, sent = memoryview(self.pending), 0
        with selectors.DefaultSelector() as selector:
            selector.register(stdin, selectors.EVENT_WRITE)
            while sent < len(view):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    return False
                try:
                    sent += os.write(stdin.fileno(), view[sent : sent + (1 << 16)])
                except BlockingIOError:
                    continue
                except OSError:
                    return False
        self.pending = b""
        return True

    def read_ready(self) -> None:
        """Consume the readiness byte if it is there (call when the answer channel is readable):
        ``ready`` becomes True, else the child failed before it was ready and is unusable."""
        try:
            first = os.read(self.process.stdout.fileno(), 1)
        except OSError:
            first = b""
        self.ready = first == _READY

    def alive(self) -> bool:
        """Whether the child is still running (without reaping it)."""
        try:
            return not os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False

    def run(self, policy, request: bytes) -> ChildRun:
        """Send ``request``, collect the answer within ``policy.wall_time``, then end the child."""
        run = ChildRun(deadline=time.monotonic() + policy.wall_time)
        try:
            payload = self.pending + len(request).to_bytes(8, "little") + request
            _exchange(self.process, payload, run, policy.max_result_size)
            if not self.ready and run.data.startswith(_READY):
                run.data = run.data[1:]
            if not (run.data or run.timed_out or run.oversized):
                until = min(run.deadline, time.monotonic() + _EXIT_GRACE)
                run.answer_closed = not _ends_by_itself(self.process, until)
        finally:
            run.status, run.cpu_seconds = self.finish()
        run.output = _read_tail(os.path.join(self.base, "output"), policy.max_output_chars)
        _remove_tree(self.base)
        return run

    def finish(self) -> tuple[int | None, float]:
        """Kill the child and anything it started (same session), reap it; its status and CPU
        seconds. The working directory stays until ``discard`` or the end of ``run``."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for stream in (self.process.stdin, self.process.stdout, self.output_file):
            _close(stream)
        return _reap(self.process)

    def discard(self) -> None:
        """End an unused child and remove its directory."""
        self.finish()
        _remove_tree(self.base)


def wait_ready(children: list[Child], deadline: float) -> None:
    """Wait until each child has sent its readiness byte, or failed, or ``deadline`` passed;
    afterwards each child's ``ready`` tells whether it is usable."""
    with selectors.DefaultSelector() as selector:
        for child in children:
            selector.register(child.process.stdout, selectors.EVENT_READ, child)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            for key, _ in selector.select(remaining):
                key.data.read_ready()
                selector.unregister(key.fileobj)


def start(policy, launch: Launch, preload: tuple[str, ...] = ()) -> Child:
    """Start a child for ``policy``; it waits for its start-up input (``Child.pending``)."""
    base = tempfile.mkdtemp(prefix="opto-sandbox-")
    try:
        work = os.path.join(base, "work")
        os.mkdir(work, 0o700)
        config = pickle.dumps(_child_config(policy, launch, work, preload), protocol=5)
        code = _child_code()
        output = open(os.path.join(base, "output"), "wb")  # noqa: SIM115 - the child owns it
    except BaseException:
        _remove_tree(base)
        raise
    try:
        process = subprocess.Popen(
            [launch.python, "-I", "-u", "-B", "-c", STARTER, str(len(code))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=output,
            cwd=work,
            env=_child_env(policy, launch, work),
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        output.close()
        _remove_tree(base)
        raise SandboxUnavailableError(
            f"The sandbox could not start the Python interpreter {launch.python!r}: {error}"
        ) from error
    except BaseException:
        output.close()
        _remove_tree(base)
        raise
    pending = code + len(config).to_bytes(8, "little") + config
    return Child(process, base, output, pending, launch)


@functools.cache
def _child_code() -> bytes:
    """The child-side modules, compiled once per process and marshalled for the starter."""
    compiled = []
    for name in _CHILD_MODULES:
        path = _HERE / f"{name}.py"
        compiled.append((name, compile(path.read_bytes(), str(path), "exec", dont_inherit=True)))
    return marshal.dumps(compiled)


def _child_config(policy, launch: Launch, work: str, preload: tuple[str, ...]) -> dict[str, Any]:
    return {
        "work_dir": work,
        "cpu_time": math.ceil(policy.cpu_time) if policy.cpu_time else None,
        "memory": policy.memory,
        "file_size": policy.file_size,
        "work_dir_size": policy.work_dir_size,
        "open_files": policy.open_files,
        "max_processes": policy.max_processes,
        "max_result_size": policy.max_result_size,
        "disable_layers": list(policy.disable_layers),
        "require": list(policy.require),
        "sys_path": list(launch.sys_path),
        "preload": list(preload),
    }


def _child_env(policy, launch: Launch, work: str) -> dict[str, str]:
    env = {"PATH": os.defpath, "HOME": work, "TMPDIR": work, "TMP": work, "TEMP": work}
    env.update(launch.numeric_env)
    env.update(_OUTPUT_ENV)
    env["MPLCONFIGDIR"] = work
    env.update(policy.env)
    return env


def _exchange(process, payload: bytes, run: ChildRun, limit: int) -> None:
    """Write the rest of the input and read the answer, never blocking past ``run.deadline``."""
    stdin, stdout = process.stdin, process.stdout
    os.set_blocking(stdin.fileno(), False)
    chunks: list[bytes] = []
    size, sent = 0, 0
    view = memoryview(payload)
    with selectors.DefaultSelector() as selector:
        selector.register(stdin, selectors.EVENT_WRITE)
        selector.register(stdout, selectors.EVENT_READ)
        while selector.get_map() and not run.oversized:
            remaining = run.deadline - time.monotonic()
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
    if stream is not None:
        with contextlib.suppress(OSError):
            stream.close()


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
