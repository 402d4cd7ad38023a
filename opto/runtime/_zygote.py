"""The fork server of a warm pool (stdlib only; runs in its own process, never runs generated code).

The parent starts it like a sandbox child (same starter, ``python -I``, minimal environment)
but with a control socket as stdin. After its start-up input (the child-side modules) it reads
one configuration frame (``sys_path`` and the trusted ``preload`` module names), imports what a
child needs before confining itself plus ``preload``, and then only obeys the parent:

- ``F`` with three descriptors (the new child's stdin, its answer channel, its output file)
  and the child's working directory and environment: fork; the new process closes every other
  descriptor, starts its own session, dies with this server (``PR_SET_PDEATHSIG``) and runs
  ``_child.entry()``, which reads its configuration, confines itself and waits for one request,
  exactly like a child started by the parent. Reply: the pid.
- ``A`` pid: whether that child has exited (it is not reaped, so its pid is not reused).
- ``E`` pid: kill the child's process group, reap it; reply its wait status and CPU seconds.

End of input (the parent closed the pool, or died) kills every child and ends the server. The
server runs only trusted code (the parent's modules and the ``preload`` names); no request or
answer of a call passes through it, and no child keeps a descriptor of it.
"""

import contextlib
import os
import sys

_LIBC = []


def entry() -> None:
    try:
        main()
    except BaseException:
        import traceback

        traceback.print_exc()
    _end_all()
    os._exit(0)


_children: set[int] = set()


def main() -> None:
    import _pickle
    import socket
    import struct

    import _child

    config = _pickle.loads(_child.read_frame())
    sys.path[:] = config["sys_path"]
    sys.dont_write_bytecode = True
    _warm_imports()
    for name in config.get("preload", ()):
        _child.preload_modules((name,))
        if _thread_count() != 1:  # forking a process with other threads can copy a held lock:
            return  # refuse at once, importing no more (the parent starts children anew)
    control = socket.socket(fileno=0)
    reply = struct.Struct("<qqd")
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 16, 3)
            while message and len(message) < 4 + int.from_bytes(message[:4], "little"):
                more = control.recv(1 << 16)
                if not more:
                    return
                message += more
        except OSError:
            return
        if not message:
            return
        command = _pickle.loads(message[4:])
        kind = command[0]
        if kind == "F":
            pid = _fork(fds, command[1], command[2])
            control.sendall(reply.pack(pid, 0, 0.0))
        elif kind == "A":
            control.sendall(reply.pack(int(_exited(command[1])), 0, 0.0))
        elif kind == "E":
            status, seconds = _end(command[1])
            control.sendall(reply.pack(status, 0, seconds))
        else:
            return


def _warm_imports() -> None:
    """What every child imports before it confines itself, done once here."""
    import ctypes
    import resource  # noqa: F401

    import _confine
    import _guard  # noqa: F401
    import _seccomp  # noqa: F401

    _LIBC.append(_confine.load_libc())
    ctypes.get_errno()


def _fork(fds: list, work_dir: str, env: dict) -> int:
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return -1
    server = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            _become_child(fds, work_dir, env, server)
        except BaseException:
            os._exit(72)
        os._exit(0)  # not reached: the child ends with os._exit
    for fd in fds:
        os.close(fd)
    _children.add(pid)
    return pid


def _become_child(fds: list, work_dir: str, env: dict, server: int) -> None:
    import ctypes

    libc = _LIBC[0] if _LIBC else None
    if libc is not None:
        libc.prctl(ctypes.c_int(1), ctypes.c_ulong(9), 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    if os.getppid() != server:  # the server ended between fork and prctl
        os._exit(73)
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    _close_from(3)  # the control socket and every other descriptor of the server
    os.chdir(work_dir)
    os.environ.clear()
    os.environ.update(env)
    _reseed()
    import _child

    _child.entry()


def _reseed() -> None:
    """A child forked from the server starts with the server's random state; give it fresh
    state from the OS, as a newly started interpreter has (``random`` reseeds itself)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.seed()
        except BaseException:  # a broken numpy import is the code's to report
            return


def _thread_count() -> int:
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return -1


def _close_from(lowest: int) -> None:
    """Close every open descriptor from ``lowest`` up, whatever its number."""
    try:
        numbers = [int(name) for name in os.listdir("/proc/self/fd")]
    except (OSError, ValueError):
        numbers = []
    if numbers:
        for fd in numbers:
            if fd >= lowest:
                with contextlib.suppress(OSError):
                    os.close(fd)
        return
    import resource

    os.closerange(lowest, max(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 1 << 16))


def _exited(pid: int) -> bool:
    if pid not in _children:
        return True
    try:
        return bool(os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT))
    except ChildProcessError:
        return True


def _end(pid: int) -> tuple[int, float]:
    """Kill ``pid``'s process group and reap it: (wait status or -1, CPU seconds)."""
    if pid not in _children:
        return -1, 0.0
    _children.discard(pid)
    for kill in (os.killpg, os.kill):  # the group, and the child itself if it has none yet
        with contextlib.suppress(OSError):
            kill(pid, 9)
    try:
        _, status, usage = os.wait4(pid, 0)
    except ChildProcessError:
        return -1, 0.0
    return status, usage.ru_utime + usage.ru_stime


def _end_all() -> None:
    for pid in list(_children):
        _end(pid)
