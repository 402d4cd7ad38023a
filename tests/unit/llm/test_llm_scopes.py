"""Cache, usage and budget scopes follow the thread or asyncio task that opened them (and the
threads it hands its context to), never the whole process."""

import asyncio
import contextvars
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from opto.llm import (
    BudgetExceeded,
    ScriptedLLM,
    UsageLedger,
    budget,
    get_cache,
    get_usage,
    usage_scope,
)
from opto.llm.cache import cache_enabled_globally, cache_scope, should_cache
from opto.llm.usage import UsageStats, add_remote_usage
from opto.optimizers import OptoPrimeMulti
from opto.trace import node

LIVENESS_SECONDS = 60


def ask(llm, text):
    return llm(messages=[{"role": "user", "content": text}])


def test_a_cache_scope_is_used_instead_of_the_process_cache_and_changes_nothing_global(tmp_path):
    process_cache = get_cache()
    llm = ScriptedLLM(["a", "b"], cache=None)
    with cache_scope(tmp_path / "scoped") as scoped:
        assert get_cache() is scoped and get_cache() is not process_cache
        assert should_cache(None, None, {"temperature": 0.9})  # the scope caches every call
        assert cache_enabled_globally() is None
        assert ask(llm, "q").content == ask(llm, "q").content == "a"
    assert get_cache() is process_cache and len(process_cache) == 0
    with cache_scope(tmp_path / "scoped"):  # reopened: the reply is on disk
        assert ask(llm, "q").cache_hit


def test_scopes_nest_and_the_innermost_counts(tmp_path):
    with cache_scope(tmp_path / "outer") as outer:
        with cache_scope(None, enabled=False) as inner:
            assert get_cache() is inner and not should_cache(None, None, {"temperature": 0})
        assert get_cache() is outer


def test_a_thread_sees_a_scope_only_when_it_runs_in_a_copy_of_the_context(tmp_path):
    seen = {}
    with cache_scope(tmp_path / "c") as scoped:
        plain = threading.Thread(target=lambda: seen.update(plain=get_cache()))
        context = contextvars.copy_context()
        copied = threading.Thread(target=lambda: seen.update(copied=context.run(get_cache)))
        for thread in (plain, copied):
            thread.start()
            thread.join(LIVENESS_SECONDS)
        assert seen["copied"] is scoped and seen["plain"] is not scoped


def test_asyncio_tasks_inherit_the_scopes(tmp_path):
    llm = ScriptedLLM(["x"] * 3, cache=False)

    async def main():
        with budget(max_calls=2) as limit, usage_scope() as spent:
            results = await asyncio.gather(
                *(llm.acall(messages=[{"role": "user", "content": str(i)}]) for i in range(3)),
                return_exceptions=True,
            )
        return limit, spent, results

    limit, spent, results = asyncio.run(main())
    assert sum(isinstance(r, BudgetExceeded) for r in results) == 1
    assert limit.calls == 2 and spent.total.calls == 2


def test_budgets_and_usage_of_two_threads_stay_apart():
    barrier = threading.Barrier(2, timeout=LIVENESS_SECONDS)

    def worker(calls, limit):
        llm = ScriptedLLM(["r"] * calls)
        with budget(max_calls=limit) as mine, usage_scope() as spent:
            barrier.wait()  # both scopes are open at once
            made = 0
            for i in range(calls):
                try:
                    ask(llm, str(i))
                    made += 1
                except BudgetExceeded:
                    pass
            barrier.wait()
        return made, mine.calls, spent.total.calls

    with ThreadPoolExecutor(2) as pool:
        small = pool.submit(worker, 5, 3)
        large = pool.submit(worker, 20, 100)
        assert small.result() == (3, 3, 3)
        assert large.result() == (20, 20, 20)
    assert get_usage().total.calls == 23  # the process ledger still counts everything


def test_one_ledger_can_count_over_several_blocks():
    ledger = UsageLedger()
    llm = ScriptedLLM(["r"] * 3)
    with usage_scope(ledger):
        ask(llm, "1")
    ask(llm, "not counted")
    with usage_scope(ledger) as same:
        ask(llm, "2")
    assert same is ledger and ledger.total.calls == 2


@pytest.mark.parametrize("counted_here", [True, False])
def test_usage_measured_elsewhere_reaches_the_open_scopes(counted_here):
    elsewhere = {"m": UsageStats(calls=2, prompt_tokens=10)}
    with usage_scope() as spent:
        add_remote_usage(elsewhere, counted_here=counted_here)
    assert spent.total.calls == 2
    assert get_usage().total.calls == (0 if counted_here else 2)


def test_optoprime_multi_candidates_are_charged_to_the_callers_budget():
    x = node(1, trainable=True, name="x")
    replies = [json.dumps({"suggestion": {"x0": value}}) for value in (5, 6, 7)]
    llm = ScriptedLLM([*replies, "Candidate 1 is best: 1"])
    optimizer = OptoPrimeMulti([x], llm=llm, num_responses=3)
    optimizer.zero_feedback()
    optimizer.backward(x + 1, "larger")
    with budget(max_calls=10) as limit, usage_scope() as spent:
        optimizer.step()
    assert limit.calls == spent.total.calls == 4  # three candidates on threads, one selection
