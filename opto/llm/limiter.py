"""A concurrency limit shared by threads and asyncio tasks.

A client is called from optimizer threads and from async code at the same time, so the limit
cannot be a `threading.Semaphore` (it would block the event loop) nor an `asyncio.Semaphore`
(it belongs to one loop). Here a freed slot is handed directly to the oldest waiter, whichever
kind it is, which also makes the order first come, first served.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass


@dataclass(eq=False)
class _Waiter:
    event: threading.Event | None = None
    future: asyncio.Future | None = None
    loop: asyncio.AbstractEventLoop | None = None
    granted: bool = False


class ConcurrencyLimiter:
    """At most `limit` holders at once; `limit=None` means no limit."""

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"max_concurrency must be at least 1 or None, got {limit}")
        self.limit = limit
        self._active = 0
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    @property
    def active(self) -> int:
        """How many holders hold the limiter now."""
        return self._active

    def _try_take(self) -> bool:
        if self.limit is None or (self._active < self.limit and not self._waiters):
            self._active += 1
            return True
        return False

    def acquire(self) -> None:
        """Block until a place is free and take it; places are handed out first come,
        first served, shared between threads and event loops."""
        with self._lock:
            if self._try_take():
                return
            waiter = _Waiter(event=threading.Event())
            self._waiters.append(waiter)
        waiter.event.wait()

    async def acquire_async(self) -> None:
        """Await a free place and take it; a cancelled waiter gives back a place it was
        handed, so cancellation never leaks one."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._try_take():
                return
            waiter = _Waiter(future=loop.create_future(), loop=loop)
            self._waiters.append(waiter)
        try:
            await waiter.future
        except asyncio.CancelledError:
            with self._lock:
                handed_over = waiter.granted
                if not handed_over:
                    self._waiters.remove(waiter)
            if handed_over:
                self.release()
            raise

    def release(self) -> None:
        """Give a place back, handing it straight to the longest waiter if there is one."""
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                if waiter.event is not None:
                    waiter.granted = True
                    waiter.event.set()
                    return
                try:
                    waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                except RuntimeError:  # its loop is closed: the waiter is gone, try the next
                    continue
                waiter.granted = True
                return
            self._active -= 1

    def __enter__(self) -> ConcurrencyLimiter:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    async def __aenter__(self) -> ConcurrencyLimiter:
        await self.acquire_async()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
