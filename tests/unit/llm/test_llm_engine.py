"""One engine: the same retry, timeout, deadline, budget, cache and history rules for
``llm(...)`` and ``await llm.acall(...)``.

Every behaviour test runs both ways (the `mode` fixture). The retry plan itself is also driven
by hand, with a fake clock and no I/O at all.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from opto.llm import (
    AuthenticationError,
    BaseLLM,
    BudgetExceeded,
    ContextWindowError,
    DummyLLM,
    InvalidRequestError,
    LLMTimeoutError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ScriptedLLM,
    ServerError,
    budget,
    cache_scope,
    get_usage,
)
from opto.llm.engine import Attempt, Pause, arun_plan, retrying, run_plan

LIVENESS_SECONDS = 60  # only against a hang; nothing here measures time
QUESTION = [{"role": "user", "content": "q"}]


@pytest.fixture(params=["sync", "async"])
def mode(request):
    return request.param


def ask(llm, mode, **kwargs):
    """One call, blocking or awaited."""
    if mode == "sync":
        return llm(messages=QUESTION, **kwargs)
    return asyncio.run(llm.acall(messages=QUESTION, **kwargs))


def recorded_waits(llm):
    """The waits between attempts, recorded instead of slept (both ways)."""
    waits = []

    async def asleep(seconds):
        waits.append(seconds)

    llm._sleep = waits.append
    llm._asleep = asleep
    return waits


def no_jitter(**changes):
    return RetryPolicy(**{"base_delay": 1.0, "jitter": 0.0, **changes})


# ----- the plan, without I/O


def test_the_retry_plan_is_a_sequence_of_effects():
    plan = retrying(no_jitter(max_attempts=3), timeout=5.0)
    assert next(plan) == Attempt(1, 5.0, None)
    assert plan.throw(ServerError("boom")) == Pause(1.0)
    assert plan.send(None) == Attempt(2, 5.0, None)
    assert plan.throw(RateLimitError("slow", retry_after=3.0)) == Pause(3.0)
    assert plan.send(None) == Attempt(3, 5.0, None)
    with pytest.raises(StopIteration) as done:
        plan.send("the reply")
    assert done.value.value == ("the reply", 3)


def test_the_plan_gives_up_with_the_error_and_its_attempt_count():
    plan = retrying(no_jitter(max_attempts=2), timeout=None)
    next(plan)
    plan.throw(ServerError("first"))
    plan.send(None)
    last = ServerError("second")
    with pytest.raises(ServerError) as info:
        plan.throw(last)
    assert info.value is last and last.attempts == 2


def test_the_plan_does_not_retry_what_is_not_an_llm_error():
    plan = retrying(no_jitter(), timeout=None)
    next(plan)
    mine = ValueError("the caller's own bug")
    with pytest.raises(ValueError) as info:
        plan.throw(mine)
    assert info.value is mine


def test_the_deadline_cuts_attempts_and_ends_waits_that_would_pass_it():
    now = [100.0]
    plan = retrying(no_jitter(total_timeout=10.0), timeout=4.0, clock=lambda: now[0])
    first = next(plan)
    assert first == Attempt(1, 4.0, 110.0)
    assert first.time_allowed(100.0) == 4.0
    assert first.time_allowed(108.5) == 1.5  # the deadline is nearer than the timeout
    assert first.time_allowed(111.0) == 0.001  # past it: the attempt times out at once
    now[0] = 104.0
    assert plan.throw(ServerError("boom")) == Pause(1.0)  # 6 s left, a 1 s wait fits
    now[0] = 109.5
    plan.send(None)
    with pytest.raises(ServerError):  # 0.5 s left: the 2 s wait is not started
        plan.throw(ServerError("again"))


def test_both_drivers_perform_the_same_effects():
    def perform_log(log):
        def perform(effect):
            log.append(effect)
            if isinstance(effect, Attempt) and effect.number < 3:
                raise ServerError("boom")
            return "done" if isinstance(effect, Attempt) else None

        return perform

    sync_log, async_log = [], []
    policy = no_jitter(max_attempts=5)
    assert run_plan(retrying(policy, 2.0), perform_log(sync_log)) == ("done", 3)
    blocking = perform_log(async_log)

    async def perform(effect):
        return blocking(effect)

    assert asyncio.run(arun_plan(retrying(policy, 2.0), perform)) == ("done", 3)
    assert sync_log == async_log
    assert [type(e).__name__ for e in sync_log] == [
        "Attempt",
        "Pause",
        "Attempt",
        "Pause",
        "Attempt",
    ]


# ----- clients, both ways


def test_rate_limits_and_server_errors_are_retried(mode):
    llm = ScriptedLLM([RateLimitError("slow"), ServerError("boom"), "ok"], retry=no_jitter())
    waits = recorded_waits(llm)
    response = ask(llm, mode)
    assert response.content == "ok" and response.usage.attempts == 3
    assert waits == [1.0, 2.0]
    usage = get_usage().total
    assert (usage.calls, usage.retries, usage.errors) == (1, 2, 0)
    assert llm.history.last()[0].attempts == 3


def test_retry_after_is_a_floor_for_the_wait(mode):
    llm = ScriptedLLM([RateLimitError("slow", retry_after=3.0), "ok"], retry=no_jitter())
    waits = recorded_waits(llm)
    assert ask(llm, mode).content == "ok"
    assert waits == [3.0]


def test_a_retry_after_beyond_the_bound_ends_the_call_at_once(mode):
    llm = ScriptedLLM(
        [RateLimitError("come back in an hour", retry_after=3600), "never"],
        retry=no_jitter(max_total_wait=10.0),
    )
    waits = recorded_waits(llm)
    with pytest.raises(RateLimitError) as info:
        ask(llm, mode)
    assert info.value.attempts == 1 and waits == [] and llm.remaining == 1


def test_a_wait_past_the_deadline_ends_the_call(mode):
    llm = ScriptedLLM(
        [ServerError("boom"), RateLimitError("later", retry_after=30.0), "never"],
        retry=no_jitter(total_timeout=20.0, max_total_wait=100.0),
    )
    waits = recorded_waits(llm)
    with pytest.raises(RateLimitError):
        ask(llm, mode)
    assert waits == [1.0] and llm.remaining == 1


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequestError("bad parameter"),
        ContextWindowError("too long"),
        AuthenticationError("bad key"),
        NotFoundError("no such model"),
        MalformedResponseError("a web page"),
        RateLimitError("quota used up", retryable=False),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_retrying_cannot_fix_are_raised_at_once(mode, error):
    llm = ScriptedLLM([error, "never"], retry=no_jitter())
    waits = recorded_waits(llm)
    with pytest.raises(type(error)) as info:
        ask(llm, mode)
    assert info.value is error and info.value.attempts == 1 and info.value.model == "scripted"
    assert waits == [] and llm.remaining == 1
    assert get_usage().total.errors == 1


class HtmlBackend(BaseLLM):
    """A backend whose server answers with a web page."""

    backend_name = "html"

    def __init__(self, **options):
        super().__init__("fake", **options)
        self.calls = 0

    def _complete(self, call):
        self.calls += 1
        return "<html>login page</html>"


def test_a_malformed_reply_is_not_retried(mode):
    backend = HtmlBackend(retry=no_jitter())
    with pytest.raises(MalformedResponseError, match="login page"):
        ask(backend, mode)
    assert backend.calls == 1


def run_guarded(call):
    """Run `call` in a thread; fail (instead of hanging the suite) if it does not end."""
    outcome = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(LIVENESS_SECONDS)
    assert not worker.is_alive(), "the call was not bounded by its timeout"
    return outcome


def test_a_user_callable_that_never_returns_is_bounded_by_the_timeout(mode):
    release = threading.Event()
    started = []

    def stuck(**kwargs):
        started.append(1)
        release.wait(LIVENESS_SECONDS)
        return "too late"

    llm = DummyLLM(stuck, timeout=0.05, retry=RetryPolicy(max_attempts=2, base_delay=0.0))
    try:
        outcome = run_guarded(lambda: ask(llm, mode))
    finally:
        release.set()
    error = outcome["error"]
    assert isinstance(error, LLMTimeoutError) and error.attempts == 2
    assert len(started) == 2
    assert get_usage().total.retries == 1


def test_the_deadline_bounds_a_call_without_a_timeout(mode):
    release = threading.Event()

    def stuck(**kwargs):
        release.wait(LIVENESS_SECONDS)
        return "too late"

    llm = DummyLLM(stuck, timeout=None, retry=RetryPolicy(total_timeout=0.1, base_delay=0.0))
    try:
        outcome = run_guarded(lambda: ask(llm, mode))
    finally:
        release.set()
    assert isinstance(outcome["error"], LLMTimeoutError)


def test_a_timeout_error_of_the_callable_itself_is_its_own(mode):
    calls = []

    def failing(**kwargs):
        calls.append(1)
        raise TimeoutError("my own database timed out")

    llm = DummyLLM(failing, timeout=30.0)
    with pytest.raises(TimeoutError, match="database") as info:
        ask(llm, mode)
    assert not isinstance(info.value, LLMTimeoutError) and calls == [1]


def test_exceptions_of_a_user_callable_propagate_unchanged(mode):
    mine = ValueError("the model function's own bug")

    def failing(**kwargs):
        raise mine

    llm = DummyLLM(failing)
    with pytest.raises(ValueError) as info:
        ask(llm, mode)
    assert info.value is mine
    record = llm.history.last()[0]
    assert record.error == "ValueError: the model function's own bug"
    assert get_usage().total.errors == 1


def test_budgets_stop_a_call_before_it_is_made(mode):
    llm = ScriptedLLM(["a", "b"], max_calls=1)
    assert ask(llm, mode).content == "a"
    with pytest.raises(BudgetExceeded, match="max_calls"):
        ask(llm, mode)
    assert llm.remaining == 1
    body = {
        "choices": [{"message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10},
    }
    priced = ScriptedLLM([body, body, body], prices=(0.001, 0.002))
    with budget(max_cost=0.07) as scope:  # each call costs 0.03; 0.06 spent leaves too little
        ask(priced, mode, max_tokens=10)
        ask(priced, mode, max_tokens=10)
        with pytest.raises(BudgetExceeded, match="max_cost"):
            ask(priced, mode, max_tokens=10)
    assert scope.calls == 2 and scope.spent == pytest.approx(0.06) and priced.remaining == 1


def test_a_failed_or_interrupted_call_gives_its_budget_back(mode):
    def interrupted(**kwargs):
        raise KeyboardInterrupt

    llm = DummyLLM(interrupted, max_calls=1)
    with pytest.raises(KeyboardInterrupt):
        ask(llm, mode)
    llm.fn = lambda **kwargs: "after"
    assert ask(llm, mode).content == "after"  # the interrupted call's reservation was freed


def test_a_cancelled_async_call_gives_its_budget_and_flight_back():
    started = threading.Event()
    release = threading.Event()

    def slow(**kwargs):
        started.set()
        release.wait(LIVENESS_SECONDS)
        return "slow"

    llm = DummyLLM(slow, max_calls=1, cache=True)

    async def cancel_one():
        task = asyncio.ensure_future(llm.acall(messages=QUESTION))
        await asyncio.to_thread(started.wait, LIVENESS_SECONDS)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(cancel_one())
    finally:
        release.set()
    llm.fn = lambda **kwargs: "fresh"
    assert llm(messages=QUESTION).content == "fresh"  # budget freed, no flight left to wait for


def test_a_cached_reply_is_served_the_same_way(mode):
    llm = ScriptedLLM(["first", "second"], cache=True, prices=(0.001, 0.001))
    ask(llm, mode)
    hit = ask(llm, mode)
    assert hit.content == "first" and hit.cache_hit and llm.remaining == 1
    assert (hit.usage.total_tokens, hit.usage.cost, hit.usage.attempts) == (0, 0.0, 0)
    usage = get_usage().total
    assert (usage.calls, usage.cache_hits) == (1, 1)
    assert [r.cached for r in llm.history.last(2)] == [False, True]


def scenario_records(mode):
    """History and ledger of one fixed scenario: a retried call, a cache hit, a refused call."""
    llm = ScriptedLLM(
        [ServerError("boom"), "answer", InvalidRequestError("bad")], cache=True, retry=no_jitter()
    )
    recorded_waits(llm)
    with cache_scope():  # a cache of its own: the other way's replies are not in it
        ask(llm, mode)
        ask(llm, mode)
        with pytest.raises(InvalidRequestError):
            ask(llm, mode, cache=False, temperature=0.5)
    records = [
        (r.model, r.replies, r.attempts, r.cached, r.error, r.prompt_tokens)
        for r in llm.history.last(10)
    ]
    return records, llm.usage.total.to_dict()


def test_sync_and_async_calls_leave_the_same_records():
    sync_records, sync_usage = scenario_records("sync")
    async_records, async_usage = scenario_records("async")
    assert sync_records == async_records
    for stats in (sync_usage, async_usage):
        stats.pop("latency_s")
    assert sync_usage == async_usage
    assert [r[2:5] for r in sync_records] == [
        (2, False, None),
        (0, True, None),
        (0, False, "InvalidRequestError: bad | model='scripted'"),
    ]
