"""Warm sandbox children and the bound on parallel calls: the mutable part of a
``SubprocessPolicy``, which the policy itself (immutable) owns.

A warm child is an ordinary sandbox child made ahead of a call: forked from the policy's fork
server (``_forkserver``; or, where that cannot run, started as a new interpreter), it has
confined itself (limits, namespaces, Landlock, seccomp, audit hook) and waits for a request.
It serves exactly ONE call and is then killed like a cold child, so no state of one call's
code can reach another call. docs/runtime.md ("Warm workers") gives the reasons for this design.

Refilling happens on one background thread per pool, which waits while the pool is full and
ends with the pool; clean-up of used children (reaping, removing directories) on another. The
pool holds its policy weakly: when the policy is garbage collected, or at interpreter exit,
``close`` ends the waiting children and the fork server and removes their directories.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator

from opto.runtime._forkserver import STARTUP_SECONDS, ForkServer
from opto.runtime._outcome import ChildRun
from opto.runtime._process import Child, Launch, current_launch, start, wait_ready
from opto.runtime.errors import SandboxError

# Children found dead when taken, in a row, after which the pool stops refilling (on a system
# where the sandbox refuses to run, every call then starts cold and reports why).
_MAX_DEAD_IN_A_ROW = 3
_JOIN_SECONDS = 10.0


class Janitor:
    """Runs the clean-up of used children on a background thread: reaping a child waits for
    its exit, and removing a directory that was a mount point in the child's namespace waits
    for the kernel (milliseconds each on a busy machine), which a call need not wait for."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._tasks: collections.deque[Callable[[], object]] = collections.deque()
        self._thread: threading.Thread | None = None

    def later(self, task: Callable[[], object]) -> None:
        """Run ``task`` on the clean-up thread."""
        with self._changed:
            self._tasks.append(task)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="opto-sandbox-cleanup", daemon=True
                )
                self._thread.start()

    def drain(self) -> None:
        """Return once every task handed over so far has run."""
        with self._changed:
            while self._thread is not None:
                self._changed.wait()

    def _work(self) -> None:
        while True:
            with self._changed:
                if not self._tasks:
                    self._thread = None
                    self._changed.notify_all()
                    return
                task = self._tasks.popleft()
            with contextlib.suppress(Exception):  # clean-up of one child must not stop the rest
                task()


class WarmPool:
    """Up to ``size`` started children of one policy, each handed to one call.

    A call finding no waiting child waits for one being started, when there are more of those
    than calls already waiting (it would be ready sooner than a new one); otherwise it starts a
    cold child at once.
    """

    def __init__(self, policy, size: int, preload: tuple[str, ...]) -> None:
        self._policy = weakref.ref(policy)
        self._size = size
        self._preload = preload
        self._owner = os.getpid()
        self._changed = threading.Condition()
        self._idle: collections.deque[Child] = collections.deque()
        self._refiller: threading.Thread | None = None
        self._starting = 0  # children the refiller is starting
        self._waiting = 0  # calls waiting for one of them
        self._closed = False
        self._dead_in_a_row = 0
        self._server: ForkServer | None = None  # used by the refilling thread only
        self._server_failed = False
        self.janitor = Janitor()

    @property
    def owned_here(self) -> bool:
        """False in a process forked from the owner: its children belong to the owner."""
        return self._owner == os.getpid()

    def take(self, launch: Launch) -> Child | None:
        """A waiting child started with ``launch``, or None (the caller starts a cold one).
        The caller calls ``fill`` once the call is done."""
        unusable: list[Child] = []
        found = None
        with self._changed:
            while found is None:
                if self._idle:
                    child = self._idle.popleft()
                    if child.launch == launch and child.idle_and_alive():
                        found = child
                    else:
                        unusable.append(child)
                        self._dead_in_a_row += child.launch == launch
                    continue
                self._refill_locked()
                if self._closed or self._broken() or self._waiting >= self._starting:
                    break
                self._waiting += 1
                try:
                    self._changed.wait()
                finally:
                    self._waiting -= 1
        for child in unusable:
            child.discard()
        return found

    def fill(self) -> None:
        """Start replacing the children taken (called after a call, so that starting them
        does not compete with the call for the CPU)."""
        with self._changed:
            self._refill_locked()

    def wait_full(self, timeout: float) -> bool:
        """Wait until ``size`` children wait (True), or the pool cannot fill, or ``timeout``
        seconds pass (False)."""
        until = time.monotonic() + timeout
        with self._changed:
            while len(self._idle) < self._size:
                self._refill_locked()
                remaining = until - time.monotonic()
                if self._closed or self._broken() or remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def close(self) -> None:
        """End the waiting children and remove their directories; no new ones start."""
        if not self.owned_here:
            return
        with self._changed:
            self._closed = True
            children, refiller = list(self._idle), self._refiller
            self._idle.clear()
            self._changed.notify_all()
        for child in children:
            child.discard()
        if refiller is not None and refiller is not threading.current_thread():
            refiller.join(_JOIN_SECONDS)
        if refiller is None and self._server is not None:
            self._drop_server(self._server, failed=False)
        self.janitor.drain()

    def _refill_locked(self) -> None:
        if self._closed or len(self._idle) >= self._size or self._broken():
            return
        # Counted as being started from now on, so that a call arriving before the refilling
        # thread wakes up waits for one of them instead of starting a cold child.
        self._starting = max(self._starting, self._size - len(self._idle))
        if self._refiller is not None:
            self._changed.notify_all()  # the refilling thread waits for this
            return
        self._refiller = threading.Thread(
            target=self._refill, name="opto-sandbox-refill", daemon=True
        )
        self._refiller.start()

    def _refill(self) -> None:
        """Keep ``size`` children waiting until the pool closes, its policy is collected, or
        starting children keeps failing; between refills, wait to be told (``fill``)."""
        while True:
            policy, missing = self._wait_for_work()
            if policy is None:
                return
            started = self._start(policy, missing)
            del policy  # the policy may be collected now; its finalizer closes this pool
            with self._changed:
                self._starting = 0
                ok = any(child.ready for child in started)
                self._dead_in_a_row = 0 if ok else self._dead_in_a_row + 1
                self._changed.notify_all()

    def _settled(self, child: Child) -> None:
        """A child just became ready (it joins the waiting ones at once) or failed."""
        with self._changed:
            usable = child.ready and not self._closed
            if usable:
                self._idle.append(child)
                self._starting = max(0, self._starting - 1)
                self._changed.notify_all()
        if not usable:
            child.discard()

    def _wait_for_work(self):
        """(policy, children to start), or (None, 0) when this thread is to end; then the
        fork server is retired (it ends once its children in use have ended)."""
        with self._changed:
            while True:
                policy = self._policy()
                if self._closed or policy is None or self._broken():
                    self._refiller = None
                    self._starting = 0
                    self._changed.notify_all()
                    server, self._server = self._server, None
                    break
                missing = self._size - len(self._idle)
                if missing > 0:
                    self._starting = missing
                    return policy, missing
                del policy  # waiting must not keep the policy alive
                self._changed.wait()
        if server is not None:
            server.retire()
        return None, 0

    def _broken(self) -> bool:
        return self._dead_in_a_row >= _MAX_DEAD_IN_A_ROW

    def _start(self, policy, count: int) -> list[Child]:
        """Start ``count`` children at once and wait until each is confined (``ready``: it joins
        the waiting children at once) or has failed; a child that could not start is left out. Children are forked from the fork
        server when it runs, else started as new interpreters that preload after confining."""
        deadline = time.monotonic() + max(policy.wall_time, STARTUP_SECONDS)
        started = []
        try:
            launch = current_launch(policy)
            server = self._server_for(policy, launch)
            for _ in range(count):
                child = None
                if server is not None:
                    try:
                        child = server.fork(policy)
                    except OSError:
                        server = self._drop_server(server, failed=True)
                if child is None:
                    child = start(policy, launch, self._preload)
                started.append(child)
                if not child.send_startup(deadline):
                    break
        except (SandboxError, OSError):
            pass  # a cold call reports the same failure with its message
        wait_ready(started, deadline, self._settled)
        return started

    def _server_for(self, policy, launch: Launch) -> ForkServer | None:
        """The running fork server for ``launch``: started on first use, replaced when the
        launch settings changed, None once one failed (children are then started anew)."""
        server = self._server
        if server is not None and server.usable and server.launch == launch:
            return server
        if server is not None:
            self._drop_server(server, failed=server.launch == launch)
        if self._server_failed or self._closed:
            return None
        try:
            self._server = ForkServer(policy, launch, self._preload)
        except OSError:
            self._server_failed = True
        return self._server

    def _drop_server(self, server: ForkServer, failed: bool) -> None:
        """Fork no more from ``server`` (it ends when its children in use have ended); after a
        failure, start no other."""
        server.retire()
        self._server = None
        self._server_failed = self._server_failed or failed


class CallRunner:
    """Runs the calls of one policy: in a warm child when one waits, else a cold one, with at
    most ``max_parallel`` calls at once."""

    def __init__(self, max_parallel: int | None) -> None:
        self._slots = threading.BoundedSemaphore(max_parallel) if max_parallel else None
        self._lock = threading.Lock()
        self._pool: WarmPool | None = None

    def run(self, policy, request: bytes) -> ChildRun:
        """Send ``request`` to a child of ``policy`` and return what the parent observed."""
        with self._slot():
            launch = current_launch(policy)
            pool = self.pool(policy) if policy.warm_workers else None
            child = pool.take(launch) if pool is not None else None
            if child is None:
                child = start(policy, launch)
            try:
                return child.run(policy, request, pool.janitor.later if pool else None)
            finally:
                if pool is not None:
                    pool.fill()

    def pool(self, policy) -> WarmPool:
        """The policy's warm pool, started on first use (and anew in a forked process)."""
        with self._lock:
            if self._pool is None or not self._pool.owned_here:
                self._pool = WarmPool(policy, policy.warm_workers, policy.preload)
                weakref.finalize(policy, self._pool.close)
            return self._pool

    def close(self) -> None:
        """End the waiting children; a later call starts the pool again."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        if self._slots is None:
            yield
            return
        with self._slots:
            yield
