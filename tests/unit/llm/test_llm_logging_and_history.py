"""What the choke point logs (retries with wait and cause, cache hits, waits for a call in
flight, budget reservations and refusals) and the bounded call history behind
`inspect_history`: every client's calls, the agent's included, never a credential."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time

import pytest

import opto
from opto.llm import (
    BudgetExceeded,
    CallHistory,
    RateLimitError,
    RetryPolicy,
    ScriptedLLM,
    budget,
    global_history,
    inspect_history,
)
from opto.llm.history import MAX_TEXT_CHARS
from opto.optimizers import OptoPrime
from opto.trace import bundle, node, operators

QUESTION = [{"role": "user", "content": "What is 2 + 2?"}]
LIVENESS_SECONDS = 60  # only against a hang; nothing here measures time


@pytest.fixture(autouse=True)
def empty_global_history():
    history = global_history()
    size = history.size
    history.clear()
    yield history
    history.resize(size)
    history.clear()


def messages_of(caplog, logger_prefix="opto.llm"):
    return [r.getMessage() for r in caplog.records if r.name.startswith(logger_prefix)]


def test_a_retry_is_logged_at_info_with_its_wait_and_cause(caplog):
    caplog.set_level(logging.INFO, logger="opto")
    llm = ScriptedLLM(
        [RateLimitError("slow down, please"), "4"],
        retry=RetryPolicy(base_delay=0.5, jitter=0.0),
    )
    waits = []
    llm._sleep = waits.append
    assert llm(messages=QUESTION).content == "4"
    assert waits == [0.5]
    [line] = [m for m in messages_of(caplog) if "retrying" in m]
    assert "attempt 1 failed (RateLimitError: slow down, please); retrying in 0.50 s" in line
    assert line.startswith("scripted:")


def test_cache_hits_and_budget_reservations_are_debug_lines(caplog):
    caplog.set_level(logging.DEBUG, logger="opto")
    llm = ScriptedLLM(["4"], cache=True, prices=(0.0, 0.0))
    with budget(max_calls=5, name="my budget"):
        llm(messages=QUESTION)
        llm(messages=QUESTION)
    lines = messages_of(caplog)
    assert any(line.startswith("my budget: reserved $0 for a call to scripted") for line in lines)
    assert sum("answered from the cache" in line for line in lines) == 1
    debug = [r for r in caplog.records if "answered from the cache" in r.getMessage()]
    assert debug[0].levelno == logging.DEBUG and debug[0].name == "opto.llm.call_log"


def test_a_budget_refusal_is_logged_at_info(caplog):
    caplog.set_level(logging.INFO, logger="opto")
    llm = ScriptedLLM(["4"])
    with budget(max_calls=0, name="tight"), pytest.raises(BudgetExceeded):
        llm(messages=QUESTION)
    [line] = messages_of(caplog)
    assert line.startswith("call to scripted not made: tight: max_calls=0 reached")


def test_nothing_below_warning_is_emitted_by_default(caplog):
    llm = ScriptedLLM([RateLimitError("slow"), "4"], cache=True)
    llm(messages=QUESTION)
    llm(messages=QUESTION)
    assert messages_of(caplog) == []


def test_a_call_that_waits_for_an_identical_call_in_flight_is_logged(caplog):
    caplog.set_level(logging.DEBUG, logger="opto")
    release = threading.Event()

    def slow_reply(request):
        assert release.wait(LIVENESS_SECONDS)
        return "4"

    llm = ScriptedLLM([slow_reply], cache=True, max_concurrency=None)
    replies = []
    threads = [threading.Thread(target=lambda: replies.append(llm(messages=QUESTION).content))]
    threads[0].start()
    deadline = time.monotonic() + LIVENESS_SECONDS
    while not llm.requests and time.monotonic() < deadline:
        time.sleep(0.001)
    threads.append(threading.Thread(target=lambda: replies.append(llm(messages=QUESTION).content)))
    threads[1].start()
    while time.monotonic() < deadline and not any(
        "waiting for an identical call" in m for m in messages_of(caplog)
    ):
        time.sleep(0.001)
    release.set()
    for thread in threads:
        thread.join(LIVENESS_SECONDS)
    assert replies == ["4", "4"]
    assert len(llm.requests) == 1
    assert any("waiting for an identical call in flight" in m for m in messages_of(caplog))


def test_inspect_history_prints_messages_reply_model_tokens_cost_and_cache(capsys):
    llm = ScriptedLLM(
        [
            {
                "choices": [{"message": {"role": "assistant", "content": "It is 4."}}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 3},
            }
        ],
        cache=True,
        prices=(1e-6, 2e-6),
    )
    llm(messages=[{"role": "system", "content": "Be brief."}, *QUESTION], temperature=0.2)
    llm(messages=[{"role": "system", "content": "Be brief."}, *QUESTION], temperature=0.2)
    llm.inspect_history(2)
    text = capsys.readouterr().out
    first, second = text.split("\n\n[")
    assert "scripted via ScriptedLLM(model='scripted', backend='scripted')" in first
    assert "12 tokens in, 3 out, $0.000018" in first
    assert "options: temperature=0.2" in first
    assert "--- system\nBe brief.\n--- user\nWhat is 2 + 2?\n--- response\n" in first
    assert first.rstrip().endswith("It is 4.")
    assert "cache hit (no tokens, no cost)" in second
    [miss, hit] = llm.history.last(2)
    assert (miss.cached, hit.cached) == (False, True)
    assert (miss.prompt_tokens, miss.completion_tokens) == (12, 3)


def test_the_global_history_holds_every_client_the_agents_included(capsys):
    agent_llm = ScriptedLLM(["Hello, Ada"], model="agent-model")
    optimizer_llm = ScriptedLLM(
        [json.dumps({"reasoning": "r", "suggestion": {"str0": "Greet warmly."}})],
        model="optimizer-model",
    )
    prompt = node("Greet.", trainable=True)
    reply = operators.call_llm(agent_llm, prompt, "Ada")
    optimizer = OptoPrime([prompt], llm=optimizer_llm)
    optimizer.zero_feedback()
    optimizer.backward(reply, "be warmer")
    optimizer.step()
    records = global_history().last(5)
    assert [r.model for r in records] == ["agent-model", "optimizer-model"]
    assert [r.model for r in agent_llm.history.last(5)] == ["agent-model"]
    opto.inspect_history(2)
    text = capsys.readouterr().out
    assert text.index("agent-model via") < text.index("optimizer-model via")
    assert "Hello, Ada" in text and "Greet warmly." in text


def test_a_failed_call_is_recorded_with_its_error():
    llm = ScriptedLLM([RateLimitError("quota gone", retryable=False)])
    with pytest.raises(RateLimitError):
        llm(messages=QUESTION)
    [record] = llm.history.last()
    assert record.error.startswith("RateLimitError: quota gone")
    assert record.replies == ()
    assert "--- error\nRateLimitError: quota gone" in record.render()


def test_histories_are_bounded_per_client_and_globally(empty_global_history):
    empty_global_history.resize(4)
    llm = ScriptedLLM([str(i) for i in range(10)])
    llm.history.resize(3)
    for i in range(10):
        llm(messages=[{"role": "user", "content": f"question {i}"}])
    assert [r.replies[0] for r in llm.history.last(10)] == ["7", "8", "9"]
    assert len(empty_global_history) == 4
    assert llm.history.last(0) == []


def test_long_texts_are_cut_in_a_record():
    long_prompt = "x" * (MAX_TEXT_CHARS + 500)
    llm = ScriptedLLM(["ok"])
    llm(messages=[{"role": "user", "content": long_prompt}])
    [record] = llm.history.last()
    content = record.messages[0]["content"]
    assert content.startswith("x" * 100) and content.endswith("[500 more characters not kept]")
    assert len(content) < MAX_TEXT_CHARS + 100


def test_credentials_never_enter_a_record(capsys):
    secret = "sk-very-secret-key-123"
    llm = ScriptedLLM(
        ["ok"],
        api_key=secret,
        extra_headers={"Authorization": f"Bearer {secret}"},
        base_url="http://user:pw@127.0.0.1:9/v1",
        temperature=0.0,
    )
    llm(messages=QUESTION)
    [record] = llm.history.last()
    assert record.options == {"temperature": 0.0}
    inspect_history(1, client=llm)
    printed = capsys.readouterr().out
    for text in (json.dumps(record.to_dict()), printed):
        assert secret not in text and "user:pw" not in text


def test_a_copied_or_unpickled_client_starts_with_an_empty_history():
    llm = ScriptedLLM(["a", "b"])
    llm(messages=QUESTION)
    duplicate = copy.deepcopy(llm)
    assert len(llm.history) == 1 and len(duplicate.history) == 0


def test_inspect_history_refuses_what_is_not_a_client_and_says_when_empty(capsys):
    with pytest.raises(TypeError, match="opto LLM client or a CallHistory"):
        inspect_history(1, client="gpt-4o")
    inspect_history(3, client=CallHistory())
    assert capsys.readouterr().out.strip() == "(no LLM calls recorded)"


def test_a_bundled_agent_call_goes_into_the_history():
    llm = ScriptedLLM(["a haiku"], model="poet")

    @bundle()
    def write(topic):
        return llm(messages=[{"role": "user", "content": f"A haiku on {topic}"}]).content

    assert write("rain").data == "a haiku"
    [record] = global_history().last()
    assert record.model == "poet" and record.messages[0]["content"] == "A haiku on rain"
