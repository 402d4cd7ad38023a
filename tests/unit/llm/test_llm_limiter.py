import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from opto.llm.limiter import ConcurrencyLimiter


class Gauge:
    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def enter(self):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self):
        with self.lock:
            self.now -= 1


def test_threads_never_exceed_the_limit():
    limiter, gauge = ConcurrencyLimiter(3), Gauge()

    def work(_):
        with limiter:
            gauge.enter()
            time.sleep(0.002)
            gauge.leave()

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(work, range(60)))
    assert 1 <= gauge.peak <= 3
    assert limiter.active == 0


def test_a_waiting_thread_gets_the_released_slot():
    limiter = ConcurrencyLimiter(1)
    limiter.acquire()
    got_it = threading.Event()

    def waiter():
        with limiter:
            got_it.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    assert not got_it.wait(0.05)
    limiter.release()
    assert got_it.wait(5)
    thread.join(5)
    assert limiter.active == 0


def test_async_tasks_fill_the_limit_exactly():
    limiter, gauge = ConcurrencyLimiter(3), Gauge()

    async def work():
        async with limiter:
            gauge.enter()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            gauge.leave()

    async def main():
        await asyncio.gather(*(work() for _ in range(20)))

    asyncio.run(main())
    assert gauge.peak == 3
    assert limiter.active == 0


def test_thread_release_wakes_an_async_waiter():
    limiter = ConcurrencyLimiter(1)
    limiter.acquire()

    async def main():
        waiting = asyncio.ensure_future(limiter.acquire_async())
        await asyncio.sleep(0)
        assert not waiting.done()
        threading.Thread(target=limiter.release).start()
        await asyncio.wait_for(waiting, 5)
        limiter.release()

    asyncio.run(main())
    assert limiter.active == 0


def test_cancelled_waiter_does_not_leak_a_slot():
    limiter = ConcurrencyLimiter(1)

    async def main():
        await limiter.acquire_async()
        waiter = asyncio.ensure_future(limiter.acquire_async())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        limiter.release()
        await asyncio.wait_for(limiter.acquire_async(), 1)
        limiter.release()

    asyncio.run(main())
    assert limiter.active == 0


def test_waiter_cancelled_after_being_granted_passes_the_slot_on():
    limiter = ConcurrencyLimiter(1)

    async def main():
        await limiter.acquire_async()
        granted = asyncio.ensure_future(limiter.acquire_async())
        second = asyncio.ensure_future(limiter.acquire_async())
        await asyncio.sleep(0)
        limiter.release()  # hands the slot to `granted`...
        granted.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await granted
        await asyncio.wait_for(second, 1)
        limiter.release()

    asyncio.run(main())
    assert limiter.active == 0


def test_no_limit_and_bad_limits():
    limiter = ConcurrencyLimiter(None)
    for _ in range(100):
        limiter.acquire()
    assert limiter.active == 100
    with pytest.raises(ValueError):
        ConcurrencyLimiter(0)
