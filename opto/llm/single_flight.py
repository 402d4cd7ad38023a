"""One provider call in flight per cache key.

When several threads or asyncio tasks make the same cacheable request at once, the first one
(the leader) calls the model and the others wait for it to land, then read its reply from the
cache: one call is paid instead of one per caller. If the leader fails, the waiting callers
compete again and the next leader tries for itself (its error may have been its own: another
client's credentials or budget).

A caller never waits for a leader running on its own thread, unless both are asyncio tasks of
the same event loop: that would wait for itself (a synchronous call made inside a coroutine
while a task of the loop leads, or a call made from inside a reply callback). It then calls
the model itself, as it would without this table.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Flight:
    """A call under way for one key: who leads it and who waits for it to land."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.thread = threading.get_ident()
        self.loop = loop
        self._landed = threading.Event()
        self._lock = threading.Lock()
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []

    def can_wait(self, loop: asyncio.AbstractEventLoop | None) -> bool:
        """Whether a caller on this thread (in `loop` when it is a coroutine) may wait here."""
        if self.thread != threading.get_ident():
            return True
        return loop is not None and loop is self.loop

    def wait(self) -> None:
        self._landed.wait()

    async def wait_async(self) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._landed.is_set():
                return
            self._async_waiters.append((loop, future))
        await future

    def land(self) -> None:
        with self._lock:
            self._landed.set()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits there now
                loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class SingleFlight:
    """The flights of one cache, by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, Flight] = {}

    def claim(self, key: str, loop: asyncio.AbstractEventLoop | None) -> tuple[Flight, bool]:
        """The flight for `key` and whether the caller leads it (True: it must `release`)."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = Flight(loop)
            return flight, True

    def release(self, key: str, flight: Flight) -> None:
        """The leader is done (with a reply in the cache, or not): wake those waiting."""
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.land()

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)
