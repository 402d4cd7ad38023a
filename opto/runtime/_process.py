"""One sandbox child process, from its start to its clean-up (the parent's side).

``start`` makes a fresh working directory and starts ``python -I -u -B`` running the starter,
in a new session, with a minimal environment; the child's start-up input (its own modules,
compiled here and marshalled, then its configuration) is queued. ``Child.run`` sends the
request, reads the answer (one length-framed message) without blocking past the call's
deadline, then kills the child's whole process group, reaps it and removes its directory. A
cold call does both at once; a warm pool (``_pool``) makes children ahead (usually forked by
``_forkserver``), lets them confine themselves, and hands each to exactly one call.
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
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opto.runtime._outcome import ChildRun
from opto.runtime.errors import SandboxUnavailableError

_HERE = Path(__file__).parent
_CHILD_MODULES = ("_seccomp", "_confine", "_guard", "_wire_format", "_child", "_zygote")
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
sys.modules[sys.argv[2]].entry()
"""
_READY = bytes(8)  # the empty frame a child sends once confined and preloaded (``_child.READY``)
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


class OwnProcess:
    """A child this process started itself: the kernel tells its exit, this process kills it."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.pid = process.pid

    def exited(self) -> bool:
        """Whether it has exited (without reaping it, so its pid is not reused)."""
        try:
            return bool(os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT))
        except ChildProcessError:
            return True

    def end(self) -> tuple[int | None, float]:
        """Kill it and anything it started (same session), reap it: its status, CPU seconds."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        return _reap(self.process)


class Child:
    """A started child process with its working directory, used for at most one request.
    ``process`` is an ``OwnProcess`` or a child of a fork server (``_forkserver``)."""

    def __init__(self, process, stdin, stdout, base: str, output, pending: bytes, launch):
        self.process = process
        self.stdin = stdin
        self.stdout = stdout
        self.base = base
        self.output_file = output
        self.pending = pending
        self.launch = launch
        self.ready = False
        self.status: tuple[int | None, float] | None = None
        self._ending = threading.Lock()

    def send_startup(self, deadline: float) -> bool:
        """Write the queued start-up input before ``deadline``, so the child confines itself
        and imports while it waits for a request; False if it could not (the child is unusable)."""
        stdin = self.stdin
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
            first = os.read(self.stdout.fileno(), len(_READY))  # written at once: not split
        except OSError:
            first = b""
        self.ready = first == _READY

    def idle_and_alive(self) -> bool:
        """Whether a ready child still waits: its answer channel, of which it holds the only
        writing end, has nothing to read (it would read as ended once the child exits)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.stdout, selectors.EVENT_READ)
            return not selector.select(0)

    def run(self, policy, request: bytes, later=None) -> ChildRun:
        """Send ``request``, collect the answer within ``policy.wall_time``, then end the child
        and remove its directory. With ``later(function)``, which runs a function on another
        thread, a child that sent a whole answer is killed, reaped and removed there: the
        answer does not wait for the child's exit (``run.settle()`` waits when needed)."""
        run = ChildRun(deadline=time.monotonic() + policy.wall_time)
        done = False
        try:
            payload = self.pending + frame(request)
            _exchange(self.stdin, self.stdout, payload, run, policy.max_result_size, self.ready)
            if later is not None and run.answered and not run.oversized:
                close_quietly(self.stdin)
                close_quietly(self.stdout)
                run.output = _read_tail(self.output_path, policy.max_output_chars)
                run.ending = self.finish
                later(self.discard)
                done = True
                return run
            if not (run.data or run.timed_out or run.oversized):
                until = min(run.deadline, time.monotonic() + _EXIT_GRACE)
                run.answer_closed = not _ends_by_itself(self.process, until)
        finally:
            if not done:
                run.status, run.cpu_seconds = self.finish()
                try:
                    run.output = _read_tail(self.output_path, policy.max_output_chars)
                finally:
                    if later is None:
                        remove_tree(self.base)
                    else:
                        later(functools.partial(remove_tree, self.base))
        return run

    @property
    def output_path(self) -> str:
        return os.path.join(self.base, "output")

    def finish(self) -> tuple[int | None, float]:
        """Kill the child and anything it started, reap it; its status and CPU seconds. The
        working directory stays until ``discard`` or the end of ``run``. Only the first call
        acts: the pid of a reaped child may belong to another process."""
        with self._ending:
            if self.status is None:
                for stream in (self.stdin, self.stdout, self.output_file):
                    close_quietly(stream)
                self.status = self.process.end()
            return self.status

    def discard(self) -> None:
        """End an unused child and remove its directory."""
        self.finish()
        remove_tree(self.base)


def wait_ready(children: list[Child], deadline: float, settled=None) -> None:
    """Wait until each child has sent its readiness frame, or failed, or ``deadline`` passed;
    afterwards each child's ``ready`` tells whether it is usable. ``settled(child)``, if given,
    is called for each child as soon as that is known (for the others, at the deadline)."""
    waiting = list(children)
    with selectors.DefaultSelector() as selector:
        for child in children:
            selector.register(child.stdout, selectors.EVENT_READ, child)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                key.data.read_ready()
                selector.unregister(key.fileobj)
                waiting.remove(key.data)
                if settled is not None:
                    settled(key.data)
    if settled is not None:
        for child in waiting:
            settled(child)


def start(policy, launch: Launch, preload: tuple[str, ...] = ()) -> Child:
    """Start a child for ``policy``; it waits for its start-up input (``Child.pending``)."""
    base = tempfile.mkdtemp(prefix="opto-sandbox-")
    try:
        work = os.path.join(base, "work")
        os.mkdir(work, 0o700)
        config = pickle.dumps(child_config(policy, launch, work, preload), protocol=5)
        code = child_code()
        output = open(os.path.join(base, "output"), "wb")  # noqa: SIM115 - the child owns it
    except BaseException:
        remove_tree(base)
        raise
    try:
        process = subprocess.Popen(
            [launch.python, "-I", "-u", "-B", "-c", STARTER, str(len(code)), "_child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=output,
            cwd=work,
            env=child_env(policy, launch, work),
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        output.close()
        remove_tree(base)
        raise SandboxUnavailableError(
            f"The sandbox could not start the Python interpreter {launch.python!r}: {error}"
        ) from error
    except BaseException:
        output.close()
        remove_tree(base)
        raise
    pending = code + frame(config)
    return Child(OwnProcess(process), process.stdin, process.stdout, base, output, pending, launch)


def frame(data: bytes) -> bytes:
    """``data`` as the child reads its inputs: 8 bytes of length, then the bytes."""
    return len(data).to_bytes(8, "little") + data


@functools.cache
def child_code() -> bytes:
    """The child-side modules, compiled once per process and marshalled for the starter."""
    compiled = []
    for name in _CHILD_MODULES:
        path = _HERE / f"{name}.py"
        compiled.append((name, compile(path.read_bytes(), str(path), "exec", dont_inherit=True)))
    return marshal.dumps(compiled)


def child_config(policy, launch: Launch, work: str, preload: tuple[str, ...]) -> dict[str, Any]:
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


def child_env(policy, launch: Launch, work: str) -> dict[str, str]:
    env = {"PATH": os.defpath, "HOME": work, "TMPDIR": work, "TMP": work, "TEMP": work}
    env.update(launch.numeric_env)
    env.update(_OUTPUT_ENV)
    env["MPLCONFIGDIR"] = work
    env.update(policy.env)
    return env


def _exchange(stdin, stdout, payload: bytes, run: ChildRun, limit: int, ready: bool) -> None:
    """Write the rest of the input and read the answer, never blocking past ``run.deadline``;
    stop reading once a whole answer frame has arrived (``ready``: the readiness frame was
    already read). ``run.data`` is the answer when it is one whole frame (8 bytes of length,
    then that many bytes), else all that was read after the readiness frame (cut short, or
    followed by more bytes: it will not decode)."""
    os.set_blocking(stdin.fileno(), False)
    chunks: list[bytes] = []
    size, sent, end = 0, 0, None
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
                        close_quietly(stdin)
                    continue
                chunk = os.read(stdout.fileno(), 1 << 16)
                if chunk:
                    chunks.append(chunk)
                    size += len(chunk)
                    run.oversized = size > limit
                    if end is None and size >= 2 * 8:
                        end = _frame_end(_head(chunks), ready)
                if end is not None and size == end:
                    run.answered = True
                if not chunk or (end is not None and size >= end):
                    selector.unregister(stdout)  # a whole answer: no need to wait for the exit
                    if sent >= len(view):
                        break
    close_quietly(stdin)
    close_quietly(stdout)
    head = _head(chunks)
    start = 0 if ready or not head.startswith(_READY) else len(_READY)
    whole = _frame_end(head, ready) == size
    _drop_first(chunks, start + 8 if whole else start)  # no copy of a large answer
    run.data = b"".join(chunks)


def _frame_end(head: bytes, ready: bool) -> int | None:
    """Where the answer frame ends, from the first bytes read (None: not known yet)."""
    start = 0 if ready or not head.startswith(_READY) else len(_READY)
    if len(head) < start + 8:
        return None
    return start + 8 + int.from_bytes(head[start : start + 8], "little")


def _head(chunks: list[bytes]) -> bytes:
    """The first 16 bytes (or fewer) of what ``chunks`` hold together."""
    head = b""
    for chunk in chunks:
        head += chunk[: 16 - len(head)]
        if len(head) >= 16:
            break
    return head


def _drop_first(chunks: list[bytes], count: int) -> None:
    """Remove the first ``count`` bytes of what ``chunks`` hold together."""
    while count and chunks:
        if len(chunks[0]) <= count:
            count -= len(chunks.pop(0))
        else:
            chunks[0] = chunks[0][count:]
            count = 0


def _ends_by_itself(process, until: float) -> bool:
    """Whether the child ends (without being reaped) before ``until``: its answer channel
    closed with no answer, which happens as it exits, or because the code closed it."""
    while True:
        if process.exited():
            return True
        if time.monotonic() >= until:
            return False
        time.sleep(0.005)


def close_quietly(stream) -> None:
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


def remove_tree(path: str) -> None:
    """Remove a child's directory, also where the code made parts of it read-only."""
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.exists(path):
        return
    for directory, subdirectories, _ in os.walk(path):  # code may have made directories read-only
        for name in subdirectories:
            full = os.path.join(directory, name)
            if not os.path.islink(full):
                os.chmod(full, 0o700)
    shutil.rmtree(path, ignore_errors=True)
