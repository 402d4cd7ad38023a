"""One provider call in flight per cache key.

When several threads or asyncio tasks make the same cacheable request at once, the first one
(the leader) calls the model and the others wait for it to land, then read its reply from the
cache: one call is paid instead of one per caller. If the leader fails, the waiting callers
compete again and the next leader tries for itself (its error may have been its own: another
client's credentials or budget).

A caller never waits for a flight it leads itself, which would wait for itself: a call made
from inside the leader's provider call (a reply callback, a user's model function, in whatever
worker thread or task the attempt runs it) is inside `leading()` of that flight. Nor does a
caller wait for a leader running on its own thread, unless both are asyncio tasks of the same
event loop (a synchronous call made inside a coroutine while a task of the loop leads would
block the loop the leader needs). Such a caller calls the model itself, as it would without
this table.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar


class Flight:
    """A call under way for one key: who leads it and who waits for it to land.

    `loop` is the event loop of a leader that is a coroutine (None for a thread): a waiter in
    the same thread may only wait if it is in that loop, or it would block the leader.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.thread = threading.get_ident()
        self.loop = loop
        self._landed = threading.Event()
        self._lock = threading.Lock()
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []

    def can_wait(self, loop: asyncio.AbstractEventLoop | None) -> bool:
        """Whether a caller on this thread (in `loop` when it is a coroutine) may wait here."""
        if self in _LED.get():
            return False
        if self.thread != threading.get_ident():
            return True
        return loop is not None and loop is self.loop

    def wait(self) -> None:
        """Block the calling thread until the leader lands."""
        self._landed.wait()

    async def wait_async(self) -> None:
        """Await the landing without blocking the event loop."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._landed.is_set():
                return
            self._async_waiters.append((loop, future))
        await future

    def land(self) -> None:
        """The leader is done: wake every waiter, in threads and in event loops."""
        with self._lock:
            self._landed.set()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits there now
                loop.call_soon_threadsafe(_resolve, future)


_LED: ContextVar[frozenset[Flight]] = ContextVar("opto_llm_led_flights", default=frozenset())


@contextlib.contextmanager
def leading(flight: Flight | None) -> Iterator[None]:
    """The code inside works for the leader of `flight` (None: for no flight): a call it
    makes, in any thread or task that inherits this context, does not wait for that flight."""
    if flight is None:
        yield
        return
    token = _LED.set(_LED.get() | {flight})
    try:
        yield
    finally:
        _LED.reset(token)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class SingleFlight:
    """The flights of one cache, by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, Flight] = {}

    def claim(self, key: str, loop: asyncio.AbstractEventLoop | None) -> tuple[Flight, bool]:
        """The flight for `key` and whether the caller leads it (True: it must `release`);
        `loop` is the caller's running event loop, None for a plain thread."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = Flight(loop)
            return flight, True

    def release(self, key: str, flight: Flight) -> None:
        """The leader of `flight`, claimed for `key`, is done (with a reply in the cache, or
        not): forget the flight and wake those waiting."""
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.land()

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)
