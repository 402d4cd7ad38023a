"""Embeddings go through the same engine as chat calls: retries, cache, budgets, ledger,
history and dry runs, sync and async alike.

`FakeEmbedder` replaces only the provider call (the backend hook), as a test backend of chat
calls does; everything around it is the real client.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from opto.llm import (
    AuthenticationError,
    BudgetExceeded,
    Embedder,
    MalformedResponseError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TokenCountWarning,
    cache_scope,
    get_usage,
)
from opto.llm.cache import request_key
from opto.llm.dry_run import dry_run


class FakeEmbedder(Embedder):
    """Answers with `replies` in order: a provider body (dict) or an exception to raise."""

    def __init__(self, replies, **options):
        options.setdefault("retry", RetryPolicy(base_delay=0.0, jitter=0.0))
        options.setdefault("prices", (0.001, 0.0))
        super().__init__("fake-embedding", **options)
        self.replies = list(replies)
        self.requests = []

    def _complete(self, call):
        self.requests.append(call.request)
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    async def _acomplete(self, call):
        return self._complete(call)


def body(vector, prompt_tokens=3):
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": vector}],
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


@pytest.fixture(params=["sync", "async"])
def mode(request):
    return request.param


def embed(embedder, mode, text="hello", **params):
    if mode == "sync":
        return embedder(text, **params)
    return asyncio.run(embedder.acall(text, **params))


def test_a_vector_is_booked_like_a_chat_call(mode):
    embedder = FakeEmbedder([body([0.5, -1.0], prompt_tokens=3)])
    reply = embed(embedder, mode)
    assert reply.vector == [0.5, -1.0] and not reply.cache_hit
    assert embedder.requests == [{"model": "fake-embedding", "input": ["hello"]}]
    assert (reply.usage.prompt_tokens, reply.usage.cost, reply.usage.attempts) == (3, 0.003, 1)
    stats = get_usage().by_model["fake-embedding"]
    assert (stats.calls, stats.prompt_tokens, stats.cost) == (1, 3, pytest.approx(0.003))
    record = embedder.history.last()[0]
    assert record.messages == ({"role": "input", "content": "hello"},)
    assert record.replies == ("(an embedding of 2 numbers)",) and record.prompt_tokens == 3


def test_transient_errors_are_retried_and_others_are_not(mode):
    embedder = FakeEmbedder([ServerError("boom"), RateLimitError("slow"), body([1.0])])
    assert embed(embedder, mode).usage.attempts == 3
    assert get_usage().total.retries == 2
    refused = FakeEmbedder([AuthenticationError("bad key"), body([1.0])], cache=False)
    with pytest.raises(AuthenticationError) as info:
        embed(refused, mode)
    assert info.value.attempts == 1 and len(refused.replies) == 1
    assert refused.history.last()[0].error.startswith("AuthenticationError")


def test_embeddings_are_cached_by_default_and_per_text(mode):
    embedder = FakeEmbedder([body([1.0, 2.0]), body([3.0])])
    with cache_scope(enabled=None):  # the usual rule, no switch: embeddings never vary
        first = embed(embedder, mode)
        again = embed(embedder, mode)
        other = embed(embedder, mode, text="another text")
    assert again.cache_hit and again.vector == first.vector == [1.0, 2.0]
    assert (again.usage.prompt_tokens, again.usage.cost) == (0, 0.0)
    assert other.vector == [3.0] and len(embedder.requests) == 2
    assert get_usage().total.cache_hits == 1
    uncached = FakeEmbedder([body([1.0]), body([1.0])], cache=False)
    embed(uncached, mode)
    embed(uncached, mode)
    assert len(uncached.requests) == 2


def test_budgets_apply_to_embeddings(mode):
    embedder = FakeEmbedder([body([1.0]), body([1.0])], max_calls=1, cache=False)
    embed(embedder, mode)
    with pytest.raises(BudgetExceeded, match="max_calls"):
        embed(embedder, mode)
    assert len(embedder.requests) == 1


@pytest.mark.parametrize(
    "vector",
    [[], "0.5,1.0", [0.5, "1.0"], [0.5, math.nan], [True, False], None],
    ids=["empty", "text", "a-string-item", "nan", "booleans", "missing"],
)
def test_a_reply_that_is_not_an_embedding_is_malformed_and_not_retried(mode, vector):
    embedder = FakeEmbedder([body(vector), body([1.0])])
    with pytest.raises(MalformedResponseError, match="not an embedding"):
        embed(embedder, mode)
    assert len(embedder.requests) == 1


def test_a_damaged_cache_entry_is_dropped_and_the_model_asked(mode, tmp_path):
    embedder = FakeEmbedder([body([1.0]), body([2.0])])
    with cache_scope(tmp_path / "cache") as cache:
        embed(embedder, mode)
        key = request_key({"model": "fake-embedding", "input": ["hello"]})
        assert cache.get(key)["embedding"] == [1.0]
        cache.set(key, {"embedding": ["not", "numbers"]})
        with pytest.warns(UserWarning, match="damaged cache entry"):
            assert embed(embedder, mode).vector == [2.0]
    assert len(embedder.requests) == 2


def test_impossible_token_counts_are_replaced_by_the_estimate(mode):
    embedder = FakeEmbedder([body([1.0], prompt_tokens=10**12)], cache=False)
    with pytest.warns(TokenCountWarning, match="estimate"):
        reply = embed(embedder, mode, text="four")
    assert reply.usage.prompt_tokens == 1 and reply.usage.estimated


def test_a_dry_run_records_the_request_and_sends_nothing(mode):
    embedder = FakeEmbedder([])
    with dry_run() as recorder:
        reply = embed(embedder, mode, text="x" * 40)
    assert reply.vector == [] and embedder.requests == []
    assert [(c.model, c.prompt_tokens) for c in recorder.calls] == [("fake-embedding", 10)]
