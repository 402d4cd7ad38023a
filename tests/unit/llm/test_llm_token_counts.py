"""Token counts from a server are clamped to what the request could use: a negative count does
not credit a budget and an absurd one does not blow it; both say so with a warning."""

import warnings

import pytest

from opto.llm import ScriptedLLM, budget, get_usage
from opto.llm.errors import TokenCountWarning
from opto.llm.token_counts import (
    MEDIA_PART_TOKENS,
    UNBOUNDED_REPLY_TOKENS,
    prompt_token_bound,
)

PRICES = (0.001, 0.002)
QUESTION = [{"role": "user", "content": "How many tokens is this?"}]


def body(prompt_tokens, completion_tokens, content="fine"):
    return {
        "choices": [{"message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    }


def test_negative_counts_do_not_credit_a_budget():
    llm = ScriptedLLM([body(-1_000_000, -1_000_000), body(10, 5)], prices=PRICES)
    with budget(max_cost=1.0) as run:
        with pytest.warns(TokenCountWarning, match="negative"):
            first = llm(messages=QUESTION, max_tokens=20)
        assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
        assert first.usage.estimated and first.usage.cost > 0
        llm(messages=QUESTION, max_tokens=20)
    assert run.spent == pytest.approx(first.usage.cost + 10 * 0.001 + 5 * 0.002)
    assert get_usage().total.prompt_tokens > 10


@pytest.mark.parametrize("absurd", [10**18, 10**400])
def test_absurd_counts_are_cut_to_what_the_request_allows(absurd):
    llm = ScriptedLLM([body(absurd, absurd)], prices=PRICES)
    with budget(max_cost=1.0) as run, pytest.warns(TokenCountWarning, match="cut"):
        reply = llm(messages=QUESTION, max_tokens=20, n=1)
    assert reply.usage.completion_tokens == 20
    request = {"model": "scripted", "messages": QUESTION, "max_tokens": 20, "n": 1}
    assert reply.usage.prompt_tokens == prompt_token_bound(request) < 2000
    assert run.spent == pytest.approx(reply.usage.cost) and run.spent < 5.0


def test_without_a_token_limit_a_reply_is_cut_at_the_unbounded_ceiling():
    llm = ScriptedLLM([body(10, 10**12)] * 2, prices=(0.0, 0.0))
    with pytest.warns(TokenCountWarning):
        reply = llm(messages=QUESTION, n=2)
    assert reply.usage.completion_tokens == 2 * UNBOUNDED_REPLY_TOKENS


def test_plausible_counts_are_used_as_reported_without_a_warning():
    llm = ScriptedLLM([body(900, 20)], prices=PRICES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reply = llm(messages=QUESTION, max_tokens=20)
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (900, 20)
    assert not reply.usage.estimated


def test_an_image_part_allows_a_large_prompt_count():
    image = [
        {"type": "text", "text": "What is in the picture?"},
        {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}},
    ]
    llm = ScriptedLLM([body(50_000, 5)], prices=PRICES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reply = llm(messages=[{"role": "user", "content": image}], max_tokens=5)
    assert reply.usage.prompt_tokens == 50_000
    assert prompt_token_bound({"messages": [{"role": "user", "content": image}]}) > (
        MEDIA_PART_TOKENS
    )


def test_estimated_completion_never_exceeds_the_token_limit():
    llm = ScriptedLLM(["x" * 4000])  # no counts reported: estimated at 1000 tokens
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reply = llm(messages=QUESTION, max_tokens=100)
    assert reply.usage.estimated and reply.usage.completion_tokens == 100
