"""Warm sandbox children and the bound on parallel calls: the mutable part of a
``SubprocessPolicy``, which the policy itself (immutable) owns.

A warm child is an ordinary sandbox child started ahead of a call: it has confined itself
(limits, namespaces, Landlock, seccomp, audit hook) and imported the policy's ``preload``
modules, and waits for a request. It serves exactly ONE call and is then killed like a cold
child, so no state of one call's code can reach another call; a child that ran nothing and
waits is exactly as confined as a cold one at the same point. docs/runtime.md ("Warm workers")
says why this design was chosen over a fork server.

Refilling happens on a background thread that ends when the pool is full, so an idle pool holds
no thread. The pool holds its policy weakly: when the policy is garbage collected, or at
interpreter exit, ``close`` ends the waiting children and removes their directories.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Iterator

from opto.runtime._outcome import ChildRun
from opto.runtime._process import Child, Launch, current_launch, start, wait_ready
from opto.runtime.errors import SandboxError

# Children found dead when taken, in a row, after which the pool stops refilling (on a system
# where the sandbox refuses to run, every call then starts cold and reports why).
_MAX_DEAD_IN_A_ROW = 3
_JOIN_SECONDS = 10.0


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

    @property
    def owned_here(self) -> bool:
        """False in a process forked from the owner: its children belong to the owner."""
        return self._owner == os.getpid()

    def take(self, launch: Launch) -> Child | None:
        """A waiting child started with ``launch``, or None (the caller starts a cold one)."""
        unusable: list[Child] = []
        found = None
        with self._changed:
            while found is None:
                if self._idle:
                    child = self._idle.popleft()
                    if child.launch == launch and child.alive():
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
            self._refill_locked()
        for child in unusable:
            child.discard()
        return found

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

    def _refill_locked(self) -> None:
        if (
            self._refiller is None
            and not self._closed
            and len(self._idle) < self._size
            and not self._broken()
        ):
            self._refiller = threading.Thread(
                target=self._refill, name="opto-sandbox-refill", daemon=True
            )
            self._refiller.start()

    def _refill(self) -> None:
        while True:
            with self._changed:
                policy = self._policy()
                missing = self._size - len(self._idle)
                if self._closed or missing <= 0 or policy is None or self._broken():
                    self._refiller = None
                    self._changed.notify_all()
                    return
                self._starting = missing
            started = self._start(policy, missing)
            del policy  # the policy may be collected now; its finalizer closes this pool
            unusable = []
            with self._changed:
                self._starting = 0
                for child in started:
                    if child.ready and not self._closed:
                        self._idle.append(child)
                    else:
                        unusable.append(child)
                ok = any(child.ready for child in started)
                self._dead_in_a_row = 0 if ok else self._dead_in_a_row + 1
                self._changed.notify_all()
            for child in unusable:
                child.discard()

    def _broken(self) -> bool:
        return self._dead_in_a_row >= _MAX_DEAD_IN_A_ROW

    def _start(self, policy, count: int) -> list[Child]:
        """Start ``count`` children at once and wait until each is confined and preloaded
        (``ready``) or has failed; a child that could not start is left out."""
        deadline = time.monotonic() + policy.wall_time
        started = []
        try:
            launch = current_launch(policy)
            for _ in range(count):
                child = start(policy, launch, self._preload)
                started.append(child)
                if not child.send_startup(deadline):
                    break
        except (SandboxError, OSError):
            pass  # a cold call reports the same failure with its message
        wait_ready(started, deadline)
        return started


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
            child = None
            if policy.warm_workers:
                child = self.pool(policy).take(launch)
            if child is None:
                child = start(policy, launch)
            return child.run(policy, request)

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
