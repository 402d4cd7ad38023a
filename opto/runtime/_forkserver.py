"""The parent's side of a fork server (``_zygote``): children forked from a process that has
started its interpreter and imported the policy's ``preload`` once.

A child of the server is an ordinary sandbox child from the moment it is forked: the parent
makes its working directory, output file and pipes (passed to the server with the fork
request), sends its configuration, and the child confines itself, signals that it is ready and
reads one request, as one started by ``_process.start``. Only its exit status, CPU time and
killing go through the server, which is its parent and keeps it unreaped until told, so its
pid is not reused while this process may still name it.

Thread-safe: one lock serialises the short commands on the control socket.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import struct
import subprocess
import tempfile
import threading

from opto.runtime._process import (
    STARTER,
    Child,
    Launch,
    child_code,
    child_config,
    child_env,
    close_quietly,
    frame,
    remove_tree,
)
from opto.utils.errors import OptoError

_REPLY = struct.Struct("<qqd")
STARTUP_SECONDS = 60.0  # at least this long for a server or child to start and import


class ForkServerError(OptoError, OSError):
    """The fork server is gone or did not answer; the pool starts its children itself."""


class ServedProcess:
    """A child of the fork server, as ``Child.process``."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid

    def exited(self) -> bool:
        try:
            return bool(self.server.command("A", self.pid)[0])
        except ForkServerError:
            return True  # the server is gone, and its children died with it

    def end(self) -> tuple[int | None, float]:
        try:
            status, _, seconds = self.server.command("E", self.pid)
        except ForkServerError:
            return None, 0.0
        finally:
            self.server.released(self.pid)
        return (status if status >= 0 else None), seconds


class ForkServer:
    """A running ``_zygote`` for one policy's settings and one ``Launch``."""

    def __init__(self, policy, launch: Launch, preload: tuple[str, ...]) -> None:
        self.launch = launch
        self.preload = preload
        self._lock = threading.Lock()
        self._live: set[int] = set()
        self._retired = False
        self._closed = False
        self._base = tempfile.mkdtemp(prefix="opto-sandbox-")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        code = child_code()
        try:
            self._process = subprocess.Popen(
                [launch.python, "-I", "-u", "-B", "-c", STARTER, str(len(code)), "_zygote"],
                stdin=theirs,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=self._base,
                env=child_env(policy, launch, self._base),
                start_new_session=True,
                close_fds=True,
            )
        except BaseException:
            ours.close()
            remove_tree(self._base)
            raise
        finally:
            theirs.close()
        self._socket = ours
        self._socket.settimeout(max(policy.wall_time, STARTUP_SECONDS))  # preload may be slow
        config = {"sys_path": list(launch.sys_path), "preload": list(preload)}
        try:
            self._socket.sendall(code + frame(pickle.dumps(config, protocol=5)))
        except OSError as error:
            self.close()
            raise ForkServerError(f"the fork server did not start: {error}") from error

    def fork(self, policy) -> Child:
        """A new child for ``policy``, waiting for its configuration (``Child.pending``)."""
        base = tempfile.mkdtemp(prefix="opto-sandbox-")
        work = os.path.join(base, "work")
        os.mkdir(work, 0o700)
        output = open(os.path.join(base, "output"), "wb")  # noqa: SIM115 - the child owns it
        child_stdin, stdin = os.pipe()
        stdout, child_stdout = os.pipe()
        try:
            request = pickle.dumps(("F", work, child_env(policy, self.launch, work)), protocol=5)
            pid = self._send(request, [child_stdin, child_stdout, output.fileno()])[0]
            if pid <= 0:
                raise ForkServerError("the fork server could not fork")
        except BaseException:
            for fd in (stdin, stdout):
                os.close(fd)
            output.close()
            remove_tree(base)
            raise
        finally:
            os.close(child_stdin)
            os.close(child_stdout)
        config = pickle.dumps(child_config(policy, self.launch, work, ()), protocol=5)
        streams = open(stdin, "wb", buffering=0), open(stdout, "rb", buffering=0)  # noqa: SIM115
        return Child(ServedProcess(self, pid), *streams, base, output, frame(config), self.launch)

    def command(self, kind: str, pid: int) -> tuple[int, int, float]:
        """Ask the server about (``"A"``) or to end (``"E"``) its child ``pid``."""
        return self._send(pickle.dumps((kind, pid), protocol=5), [])

    def _send(self, message: bytes, fds: list[int]) -> tuple[int, int, float]:
        with self._lock:
            if self._closed:
                raise ForkServerError("the fork server was closed")
            try:
                socket.send_fds(self._socket, [len(message).to_bytes(4, "little") + message], fds)
                reply = b""
                while len(reply) < _REPLY.size:
                    chunk = self._socket.recv(_REPLY.size - len(reply))
                    if not chunk:
                        raise ForkServerError("the fork server ended")
                    reply += chunk
            except OSError as error:
                self._closed = True
                close_quietly(self._socket)
                raise ForkServerError(f"the fork server did not answer: {error}") from error
            values = _REPLY.unpack(reply)
            if fds:
                self._live.add(values[0])
            return values

    @property
    def usable(self) -> bool:
        with self._lock:
            return not (self._closed or self._retired) and self._process.poll() is None

    def released(self, pid: int) -> None:
        """``pid`` ended; a retired server ends with its last child."""
        with self._lock:
            self._live.discard(pid)
            done = self._retired and not self._live
        if done:
            self.close()

    def retire(self) -> None:
        """Fork no more; end the server once its children in use have ended."""
        with self._lock:
            self._retired = True
            done = not self._live
        if done:
            self.close()

    def close(self) -> None:
        """End the server: it kills its remaining children, then exits."""
        with self._lock:
            self._closed = True
            close_quietly(self._socket)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(5)
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, 9)
            self._process.wait()
        remove_tree(self._base)
