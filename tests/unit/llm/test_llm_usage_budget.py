import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from opto.llm import (
    Budget,
    BudgetExceeded,
    PriceUnknownError,
    ScriptedLLM,
    ServerError,
    budget,
    get_usage,
    reset_usage,
)
from opto.llm.budget import active_budgets
from opto.llm.pricing import estimate_prompt_tokens, price_for
from opto.llm.usage import UsageLedger


def user(text):
    return [{"role": "system", "content": "You are terse."}, {"role": "user", "content": text}]


PRICES = (0.001, 0.002)  # dollars per input / output token


def reply(prompt_tokens=10, completion_tokens=5):
    return {
        "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    }


def test_usage_per_model_and_total():
    a = ScriptedLLM([reply(10, 5)] * 2, model="model-a", prices=PRICES)
    b = ScriptedLLM([reply(100, 50)], model="model-b", prices=PRICES)
    a(messages=user("1"))
    response = a(messages=user("2"))
    b(messages=user("3"))
    assert response.usage.cost == pytest.approx(10 * 0.001 + 5 * 0.002)
    by_model = get_usage().by_model
    assert by_model["model-a"].calls == 2 and by_model["model-a"].prompt_tokens == 20
    assert by_model["model-b"].completion_tokens == 50
    total = get_usage().total
    assert total.calls == 3 and total.total_tokens == 20 + 10 + 150
    assert total.cost == pytest.approx(2 * 0.02 + 0.2)
    assert a.usage.total.calls == 2 and b.usage.total.calls == 1
    assert "model-a" in get_usage().summary() and "TOTAL" in get_usage().summary()
    assert get_usage().snapshot()["total"]["total_tokens"] == 180
    reset_usage()
    assert get_usage().total.calls == 0


def test_tokens_are_estimated_when_the_server_reports_none():
    llm = ScriptedLLM(["x" * 40])
    response = llm(messages=user("y" * 80))
    assert response.usage.estimated
    assert response.usage.completion_tokens == 10
    assert response.usage.prompt_tokens == estimate_prompt_tokens(user("y" * 80))


def test_unknown_price_gives_unknown_cost_counted_apart():
    llm = ScriptedLLM(["a"], model="my-local-model", prices=None)
    assert llm(messages=user("q")).usage.cost is None
    assert get_usage().total.unpriced_calls == 1 and get_usage().total.cost == 0


def test_price_map_from_litellm_without_importing_it():
    import sys

    price = price_for("gpt-4o-mini")
    assert price is not None and price.input > 0 and price.output > price.input
    assert price_for("openai/gpt-4o-mini") == price
    assert price_for("no-such-model-xyz") is None
    assert "litellm" not in sys.modules or price is not None


def test_max_calls_stops_before_the_call():
    llm = ScriptedLLM(["a", "b", "c"], max_calls=2)
    llm(messages=user("1"))
    llm(messages=user("2"))
    with pytest.raises(BudgetExceeded) as info:
        llm(messages=user("3"))
    assert info.value.limit_name == "max_calls" and "not made" in str(info.value)
    assert len(llm.requests) == 2 and llm.remaining == 1


def test_max_cost_uses_prompt_estimate_and_max_tokens():
    llm = ScriptedLLM([reply(10, 10)] * 5, prices=PRICES)
    prompt = user("q")
    estimate = estimate_prompt_tokens(prompt) * 0.001 + 10 * 0.002
    with budget(max_cost=0.03 + 0.03 + estimate - 1e-9) as scope:
        llm(messages=prompt, max_tokens=10)
        llm(messages=prompt, max_tokens=10)
        assert scope.spent == pytest.approx(0.06) and scope.calls == 2
        with pytest.raises(BudgetExceeded) as info:
            llm(messages=prompt, max_tokens=10)
    assert info.value.limit_name == "max_cost"
    assert info.value.needed == pytest.approx(estimate)
    assert len(llm.requests) == 2


def test_n_multiplies_the_output_estimate():
    llm = ScriptedLLM(["a"] * 3, prices=(0.0, 0.01))
    with budget(max_cost=0.25), pytest.raises(BudgetExceeded):
        llm(messages=user("q"), max_tokens=10, n=3)
    assert llm.requests == []


def test_max_completion_tokens_counts_like_max_tokens():
    llm = ScriptedLLM(["a"], prices=(0.0, 0.01))
    with budget(max_cost=0.05), pytest.raises(BudgetExceeded):
        llm(messages=user("q"), max_completion_tokens=10)
    assert llm.requests == []


def test_cost_budget_with_unknown_price_is_an_error_not_ignored():
    llm = ScriptedLLM(["a"], model="local", prices=None)
    with budget(max_cost=1.0), pytest.raises(PriceUnknownError, match="prices="):
        llm(messages=user("q"))
    with budget(max_calls=1):
        assert llm(messages=user("q")).content == "a"


def test_cache_hits_do_not_count_against_budgets():
    llm = ScriptedLLM(["a"], cache=True)
    with budget(max_calls=1) as scope:
        for _ in range(5):
            llm(messages=user("same"))
    assert scope.calls == 1


def test_failed_calls_give_their_reservation_back():
    llm = ScriptedLLM([ServerError("down", retryable=False), "ok"], max_calls=1)
    with pytest.raises(ServerError):
        llm(messages=user("q"))
    assert llm(messages=user("q")).content == "ok"
    assert get_usage().total.errors == 1


def test_nested_scopes_count_independently_and_are_removed():
    llm = ScriptedLLM(["a"] * 4)
    with budget(max_calls=3, name="outer") as outer:
        llm(messages=user("1"))
        with budget(max_calls=1, name="inner") as inner:
            llm(messages=user("2"))
            with pytest.raises(BudgetExceeded, match="inner"):
                llm(messages=user("3"))
        llm(messages=user("4"))
    assert (outer.calls, inner.calls) == (3, 1)
    assert active_budgets() == []


def test_max_calls_is_exact_under_many_threads():
    llm = ScriptedLLM(["r"] * 100, max_concurrency=None)
    outcomes = []
    lock = threading.Lock()

    def call(i):
        try:
            llm(messages=user(str(i)))
            result = "ok"
        except BudgetExceeded:
            result = "stopped"
        with lock:
            outcomes.append(result)

    with budget(max_calls=7), ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(contextvars.copy_context().run, call, i) for i in range(40)]
        [future.result() for future in futures]
    assert outcomes.count("ok") == 7 and outcomes.count("stopped") == 33
    assert len(llm.requests) == 7


def test_budget_arguments_are_checked():
    with pytest.raises(ValueError):
        Budget(max_cost=-1)
    with pytest.raises(ValueError):
        Budget(max_calls=-1)
    assert Budget(max_cost=2.0).remaining_cost == 2.0


def test_ledger_is_thread_safe():
    ledger = UsageLedger()

    def add(_):
        for _ in range(200):
            ledger.record("m", calls=1, prompt_tokens=2)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(8)))
    assert ledger.total.calls == 1600 and ledger.total.prompt_tokens == 3200
