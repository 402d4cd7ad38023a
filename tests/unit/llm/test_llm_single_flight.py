"""Identical concurrent cacheable calls pay once: one flight per cache key, in threads and in
asyncio, without deadlocks when a caller would wait for itself."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from opto.llm import AuthenticationError, DummyLLM, ScriptedLLM, get_cache, get_usage
from opto.llm.single_flight import SingleFlight

QUESTION = [{"role": "user", "content": "same question"}]
CALLERS = 16
LIVENESS_SECONDS = 60  # only against a hang; the tests never measure time


class WatchedFlights(SingleFlight):
    """Counts the callers that found a flight under way (they wait for it)."""

    def __init__(self):
        super().__init__()
        self.followers = 0
        self.changed = threading.Condition()

    def claim(self, key, loop):
        flight, leads = super().claim(key, loop)
        if not leads:
            with self.changed:
                self.followers += 1
                self.changed.notify_all()
        return flight, leads


def gated_reply(flights, entered):
    """The model answers once every other caller either waits for the flight or is itself
    inside the model (without single flight they all get here)."""

    def reply(request):
        with flights.changed:
            entered.append(1)
            flights.changed.notify_all()
            assert flights.changed.wait_for(
                lambda: flights.followers + len(entered) >= CALLERS, LIVENESS_SECONDS
            )
        return "answer"

    return reply


def test_sixteen_identical_threaded_calls_pay_once():
    cache = get_cache()
    cache.flights = flights = WatchedFlights()
    entered = []
    llm = ScriptedLLM([gated_reply(flights, entered)] * CALLERS, cache=True, max_concurrency=None)
    with ThreadPoolExecutor(CALLERS) as pool:
        replies = list(pool.map(lambda _: llm(messages=QUESTION), range(CALLERS)))
    assert [r.content for r in replies] == ["answer"] * CALLERS
    assert len(llm.requests) == 1
    total = get_usage().total
    assert (total.calls, total.cache_hits) == (1, CALLERS - 1)
    assert len(flights) == 0


def test_sixteen_identical_async_calls_pay_once():
    cache = get_cache()
    cache.flights = flights = WatchedFlights()
    entered = []

    async def reply(*args, **kwargs):
        """Runs on the event loop: yields until every other task waits or is in here too."""
        entered.append(1)
        for _ in range(100_000):
            if flights.followers + len(entered) >= CALLERS:
                return "answer"
            await asyncio.sleep(0)
        raise AssertionError("the other tasks neither waited nor called")

    llm = DummyLLM(reply, cache=True, max_concurrency=None)

    async def main():
        return await asyncio.gather(*(llm.acall(messages=QUESTION) for _ in range(CALLERS)))

    replies = asyncio.run(main())
    assert [r.content for r in replies] == ["answer"] * CALLERS
    assert len(entered) == 1
    total = get_usage().total
    assert (total.calls, total.cache_hits) == (1, CALLERS - 1)


def test_when_the_leader_fails_a_waiting_caller_asks_for_itself():
    cache = get_cache()
    cache.flights = flights = WatchedFlights()
    entered = []
    gate = gated_reply(flights, entered)

    def failing(request):
        gate(request)
        raise AuthenticationError("this client's own credentials were refused")

    llm = ScriptedLLM([failing] + [gate] * CALLERS, cache=True, max_concurrency=None)

    def ask(_):
        try:
            return llm(messages=QUESTION).content
        except AuthenticationError:
            return "failed"

    with ThreadPoolExecutor(CALLERS) as pool:
        outcomes = list(pool.map(ask, range(CALLERS)))
    assert sorted(outcomes) == ["answer"] * (CALLERS - 1) + ["failed"]
    assert len(llm.requests) == 2  # the failed leader, then one new leader for all the rest
    assert len(flights) == 0


def test_a_caller_never_waits_for_a_leader_on_its_own_thread():
    """A reply callback that asks the same question again would wait for itself."""
    inner = []

    def reply(request):
        if not inner:
            inner.append(llm(messages=QUESTION).content)  # same key, same thread
        return "outer"

    llm = ScriptedLLM([reply, "inner"], cache=True)
    worker = threading.Thread(target=lambda: inner.append(llm(messages=QUESTION).content))
    worker.start()
    worker.join(LIVENESS_SECONDS)
    assert not worker.is_alive()
    assert inner == ["inner", "outer"]


def test_a_blocking_call_inside_a_coroutine_does_not_wait_for_a_task_of_its_loop():
    started, blocking_done = threading.Event(), threading.Event()

    def slow(request):
        started.set()
        assert blocking_done.wait(LIVENESS_SECONDS)
        return "from the task"

    llm = ScriptedLLM([slow, "from the blocking call"], cache=True)

    async def main():
        task = asyncio.ensure_future(llm.acall(messages=QUESTION))
        await asyncio.to_thread(started.wait, LIVENESS_SECONDS)
        blocking = llm(messages=QUESTION)  # the leader is a task of this very loop
        blocking_done.set()
        return blocking.content, (await task).content

    result = [None]
    worker = threading.Thread(target=lambda: result.__setitem__(0, asyncio.run(main())))
    worker.start()
    worker.join(LIVENESS_SECONDS)
    assert not worker.is_alive()
    assert sorted(result[0]) == ["from the blocking call", "from the task"]


def test_different_requests_fly_independently():
    llm = ScriptedLLM([lambda r: r["messages"][0]["content"]] * 8, cache=True)
    with ThreadPoolExecutor(8) as pool:
        replies = list(
            pool.map(lambda i: llm(messages=[{"role": "user", "content": f"q{i}"}]), range(8))
        )
    assert [r.content for r in replies] == [f"q{i}" for i in range(8)]
    assert get_usage().total.calls == 8
