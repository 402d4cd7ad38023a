"""The retry, timeout and deadline logic of a model call, written once for sync and async.

A call is carried out as a *plan*: a generator that does no I/O of its own. It yields the next
thing it needs done, an effect, and is sent back what came of it:

- `Attempt`: make one provider call within the time it allows; the reply is sent back, or the
  error is thrown in at the ``yield``;
- `Pause`: wait that many seconds before the next attempt;
- `AwaitFlight`: wait until an identical call in flight has landed (then look in the cache).

`retrying` is the plan of the retry loop (it follows a `RetryPolicy`); a client's plan for a
whole call (cache, single flight, budgets, the retry loop, accounting) is built around it in
`opto.llm.client`. Two drivers carry any plan out: `run_plan` with blocking calls for
``llm(...)``, `arun_plan` with awaits for ``await llm.acall(...)``. Every decision (whether to
retry, how long to wait, when the deadline ends the call) is taken in the plan, so a sync and
an async call cannot behave differently; a driver only performs the effects it is given.

Each attempt is bounded by its timeout in both worlds: `await_within` for coroutines, and
`call_within` for blocking code that does not stop itself (a user's callable): it runs the code
in a worker thread and stops waiting at the deadline. Blocking code awaited from async code
runs in such a thread too (`in_worker_thread`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar, Union

from opto.llm.errors import LLMError
from opto.llm.retry import RetryPolicy
from opto.llm.single_flight import Flight

T = TypeVar("T")


@dataclass(frozen=True)
class Attempt:
    """Make attempt number `number` of the call.

    `timeout` is what one attempt may take (None: no limit), `deadline` the monotonic time by
    which the whole call must end (None: none); the attempt gets the smaller of the two.
    """

    number: int
    timeout: float | None
    deadline: float | None = None

    def time_allowed(self, now: float) -> float | None:
        """Seconds the attempt may take when it starts at `now` (at least a millisecond, so a
        deadline reached while waiting for a slot ends the attempt with a timeout error)."""
        if self.deadline is None:
            return self.timeout
        left = max(self.deadline - now, 0.001)
        return left if self.timeout is None else min(self.timeout, left)


@dataclass(frozen=True)
class Pause:
    """Wait `seconds` before the next attempt."""

    seconds: float


@dataclass(frozen=True)
class AwaitFlight:
    """Wait until `flight` (an identical call led by another caller) has landed."""

    flight: Flight


Effect = Union[Attempt, Pause, AwaitFlight]
Plan = Generator[Effect, Any, T]

RetryHook = Callable[[LLMError, int, float], None]


def retrying(
    policy: RetryPolicy,
    timeout: float | None,
    on_retry: RetryHook | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Plan[tuple[Any, int]]:
    """The retry loop as a plan: returns ``(reply, attempts made)``, or raises the error that
    ended the call.

    Only an `LLMError` thrown in at an attempt is considered for a retry (by
    ``policy.next_delay``); any other exception ends the call as it is. `timeout` is the
    seconds each attempt may take, passed on in every ``Attempt``. Every such error gets
    the number of attempts made (``error.attempts``). `on_retry(error, attempt, delay)` is told
    of each retry before its wait. `clock` is read for the call's deadline
    (``policy.total_timeout``) only.
    """
    deadline = None if policy.total_timeout is None else clock() + policy.total_timeout
    number, waited = 0, 0.0
    while True:
        number += 1
        try:
            reply = yield Attempt(number, timeout, deadline)
        except LLMError as error:
            error.attempts = number
            time_left = None if deadline is None else deadline - clock()
            delay = policy.next_delay(number, error, waited, time_left)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(error, number, delay)
            yield Pause(delay)
            waited += delay
            continue
        return reply, number


def run_plan(plan: Plan[T], perform: Callable[[Effect], Any]) -> T:
    """Carry out `plan` with blocking calls: `perform(effect)` does one effect and returns its
    outcome, or raises, and the exception is thrown into the plan."""
    outcome: Any = None
    failure: BaseException | None = None
    while True:
        try:
            effect = plan.send(outcome) if failure is None else plan.throw(failure)
        except StopIteration as done:
            return done.value
        outcome = failure = None
        try:
            outcome = perform(effect)
        except BaseException as exc:  # the plan decides; KeyboardInterrupt lets it clean up
            failure = exc


async def arun_plan(plan: Plan[T], perform: Callable[[Effect], Awaitable[Any]]) -> T:
    """Carry out `plan` with awaits: the async twin of `run_plan`, where `perform(effect)` is
    a coroutine function (cancellation is thrown into the plan like any other exception, so
    it releases what it holds)."""
    outcome: Any = None
    failure: BaseException | None = None
    while True:
        try:
            effect = plan.send(outcome) if failure is None else plan.throw(failure)
        except StopIteration as done:
            return done.value
        outcome = failure = None
        try:
            outcome = await perform(effect)
        except BaseException as exc:
            failure = exc


class _Outcome:
    """What a worker thread's function returned or raised, for a blocked caller."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def deliver(self, value: Any, error: BaseException | None) -> None:
        self.value, self.error = value, error
        self.done.set()


def _start_worker(
    fn: Callable[[], Any], deliver: Callable[[Any, BaseException | None], None]
) -> None:
    """Run `fn` in a new daemon thread, in a copy of the caller's context (so the caller's
    cache, budget and usage scopes and the HTTP observer apply there too); hand what it
    returned or raised to `deliver`. A daemon thread does not keep the process alive, and no
    executor waits for it at shutdown."""
    context = contextvars.copy_context()

    def work() -> None:
        try:
            value, error = context.run(fn), None
        except BaseException as exc:  # handed to the caller, whatever it is
            value, error = None, exc
        deliver(value, error)

    threading.Thread(target=work, name="opto-llm-attempt", daemon=True).start()


def call_within(
    fn: Callable[[], T], timeout: float | None, on_timeout: Callable[[], BaseException]
) -> T:
    """``fn()``, unless it runs longer than `timeout` seconds: then `on_timeout()` is raised.

    `fn` runs in a daemon worker thread (see `_start_worker`). Python cannot stop a thread: at
    the deadline the caller stops waiting and gets the error, while the worker runs on until
    `fn` returns, its result then dropped. With `timeout` None, `fn` runs in the caller's
    thread.
    """
    if timeout is None:
        return fn()
    outcome = _Outcome()
    _start_worker(fn, outcome.deliver)
    if not outcome.done.wait(timeout):
        raise on_timeout()
    if outcome.error is not None:
        raise outcome.error
    return outcome.value


async def in_worker_thread(fn: Callable[[], T]) -> T:
    """``await``-able ``fn()`` run in a daemon worker thread (see `_start_worker`).

    Unlike ``asyncio.to_thread``, the thread is not one of the event loop's executor, so
    ``asyncio.run`` does not wait for a call that was abandoned at its deadline to return.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def deliver(value: Any, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for it any more
            loop.call_soon_threadsafe(_settle, future, value, error)

    _start_worker(fn, deliver)
    return await future


def _settle(future: asyncio.Future, value: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled at the deadline
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


async def await_within(
    awaitable: Awaitable[T], timeout: float | None, on_timeout: Callable[[], BaseException]
) -> T:
    """The result of `awaitable`, unless it takes longer than `timeout` seconds: then it is
    cancelled and `on_timeout()` is raised.

    Unlike ``asyncio.wait_for``, a ``TimeoutError`` raised by the awaitable itself reaches the
    caller unchanged: only the deadline turns into `on_timeout()` (as with `call_within`).
    """
    if timeout is None:
        return await awaitable
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except BaseException:  # this call was cancelled: so is the attempt
        task.cancel()
        raise
    if not done:
        task.cancel()
        await asyncio.wait({task})
        raise on_timeout()
    return task.result()
