"""One engine against a real loopback server: chat calls of both backends and embeddings
behave the same, sync and async (retries, Retry-After, the deadline, errors that are not
retried, budgets, the cache and the history)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque

import pytest
from werkzeug import Request, Response

from opto.llm import (
    LLM,
    AuthenticationError,
    BudgetExceeded,
    ContextWindowError,
    Embedder,
    InvalidRequestError,
    LLMTimeoutError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    budget,
    get_usage,
)
from opto.utils.llm import embed

BACKENDS = ["openai", "litellm"]
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_total_wait=5.0)


@pytest.fixture(params=["sync", "async"])
def mode(request):
    return request.param


def run(mode, client, *args, **kwargs):
    """One call of `client` (chat or embedding), blocking or awaited."""
    if mode == "sync":
        return client(*args, **kwargs)
    return asyncio.run(client.acall(*args, **kwargs))


def recorded_waits(client):
    waits = []

    async def asleep(seconds):
        waits.append(seconds)

    client._sleep = waits.append
    client._asleep = asleep
    return waits


def chat_client(server, backend, **options):
    model = "local" if backend == "openai" else "openai/local"
    options.setdefault("retry", FAST_RETRY)
    return LLM(model, backend=backend, base_url=server.url, api_key="test-key", **options)


QUESTION = [{"role": "user", "content": "Say hi"}]


# ----- chat, both backends, both ways


@pytest.mark.parametrize("backend", BACKENDS)
def test_429_waits_for_retry_after(chat_server, backend, mode):
    chat_server.push(
        chat_server.status(429, "Rate limit reached", {"Retry-After": "2"}),
        chat_server.reply("finally"),
    )
    llm = chat_client(chat_server, backend)
    waits = recorded_waits(llm)
    response = run(mode, llm, messages=QUESTION)
    assert response.content == "finally" and response.usage.attempts == 2
    assert waits == [2.0] and chat_server.count == 2
    assert get_usage().total.retries == 1
    assert llm.history.last()[0].attempts == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_5xx_is_retried_up_to_the_policy(chat_server, backend, mode):
    llm = chat_client(chat_server, backend)
    chat_server.push(*[chat_server.status(503, "overloaded")] * FAST_RETRY.max_attempts)
    with pytest.raises(ServerError, match="overloaded") as info:
        run(mode, llm, messages=QUESTION)
    assert info.value.attempts == FAST_RETRY.max_attempts
    assert chat_server.count == FAST_RETRY.max_attempts  # no hidden SDK retries


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("code", "message", "error"),
    [
        (400, "This model's maximum context length is 4096 tokens", ContextWindowError),
        (401, "Incorrect API key provided", AuthenticationError),
        (404, "The model `local` does not exist", NotFoundError),
        (422, "unknown parameter", InvalidRequestError),
    ],
)
def test_4xx_is_not_retried(chat_server, backend, mode, code, message, error):
    chat_server.push(chat_server.status(code, message))
    with pytest.raises(error) as info:
        run(mode, chat_client(chat_server, backend), messages=QUESTION)
    assert message in str(info.value) and info.value.attempts == 1
    assert chat_server.count == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_malformed_body_is_not_retried(chat_server, backend, mode):
    chat_server.push(chat_server.raw("<html><body>Login</body></html>", "text/html"))
    with pytest.raises(MalformedResponseError):
        run(mode, chat_client(chat_server, backend), messages=QUESTION)
    assert chat_server.count == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_deadline_ends_the_call_however_slow_the_server(chat_server, backend, mode):
    chat_server.push(chat_server.slow(3.0), chat_server.slow(3.0))
    llm = chat_client(
        chat_server, backend, timeout=None, retry=RetryPolicy(total_timeout=0.5, base_delay=0.0)
    )
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError):
        run(mode, llm, messages=QUESTION)
    assert time.monotonic() - started < 2.5  # liveness: the server would take 3 s
    assert chat_server.wait_for_count(1) == 1  # no time was left for a second attempt


@pytest.mark.parametrize("backend", BACKENDS)
def test_budget_and_cache(chat_server, backend, mode):
    chat_server.default = chat_server.reply("ok", usage=(10, 10))
    llm = chat_client(chat_server, backend, prices=(0.001, 0.002))
    with budget(max_cost=0.07) as scope:
        run(mode, llm, messages=QUESTION, max_tokens=10, temperature=0)
        hit = run(mode, llm, messages=QUESTION, max_tokens=10, temperature=0)
        run(mode, llm, messages=QUESTION, max_tokens=10)
        with pytest.raises(BudgetExceeded, match="max_cost"):
            run(mode, llm, messages=QUESTION, max_tokens=10)
    assert hit.cache_hit and hit.usage.total_tokens == 0
    assert chat_server.count == 2 and scope.spent == pytest.approx(0.06)
    assert [r.cached for r in llm.history.last(3)] == [False, True, False]


# ----- embeddings, both ways


class EmbeddingServer:
    """A queue of behaviours for POST /v1/embeddings; the default answers a 2-number vector."""

    def __init__(self, server):
        self.server = server
        self.queue = deque()
        self.count = 0
        self._lock = threading.Lock()
        server.expect_request("/v1/embeddings", method="POST").respond_with_handler(self._handle)

    @property
    def url(self):
        return self.server.url_for("/v1")

    @staticmethod
    def vector(values, prompt_tokens=3):
        payload = {
            "object": "list",
            "model": "e",
            "data": [{"object": "embedding", "index": 0, "embedding": values}],
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
        return lambda: Response(json.dumps(payload), content_type="application/json")

    @staticmethod
    def status(code, message="error", headers=None):
        payload = json.dumps({"error": {"message": message, "type": "x", "code": None}})
        return lambda: Response(
            payload, status=code, headers=headers or {}, content_type="application/json"
        )

    @staticmethod
    def raw(text, content_type="application/json"):
        return lambda: Response(text, content_type=content_type)

    def push(self, *behaviours):
        self.queue.extend(behaviours)

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.count += 1
            behaviour = self.queue.popleft() if self.queue else self.vector([0.5, -1.0])
        return behaviour()


@pytest.fixture
def embedding_server(http_server):
    http_server.clear()
    return EmbeddingServer(http_server)


def embedder(server, **options):
    options.setdefault("retry", FAST_RETRY)
    return Embedder("openai/e", base_url=server.url, api_key="k", **options)


def test_an_embedding_is_booked_and_cached(embedding_server, mode):
    client = embedder(embedding_server)
    reply = run(mode, client, "hello")
    assert reply.vector == [0.5, -1.0] and reply.usage.prompt_tokens == 3
    again = run(mode, client, "hello")
    assert again.cache_hit and embedding_server.count == 1
    stats = get_usage().by_model["openai/e"]
    assert (stats.calls, stats.cache_hits, stats.prompt_tokens) == (1, 1, 3)
    assert [r.cached for r in client.history.last(2)] == [False, True]


def test_embedding_errors_are_retried_exactly_by_the_policy(embedding_server, mode):
    embedding_server.push(
        embedding_server.status(429, "slow down", {"Retry-After": "1"}),
        embedding_server.status(500, "boom"),
        embedding_server.vector([1.0, 2.0]),
    )
    client = embedder(embedding_server, cache=False)
    waits = recorded_waits(client)
    reply = run(mode, client, "hello")
    assert reply.vector == [1.0, 2.0] and reply.usage.attempts == 3
    assert waits[0] == 1.0 and embedding_server.count == 3  # litellm retries nothing itself


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        (EmbeddingServer.status(401, "Incorrect API key"), AuthenticationError),
        (EmbeddingServer.status(400, "bad input"), InvalidRequestError),
        (EmbeddingServer.vector("not a vector"), MalformedResponseError),
        (EmbeddingServer.raw("not json{"), MalformedResponseError),
        (EmbeddingServer.raw("<html>Login</html>", "text/html"), MalformedResponseError),
    ],
    ids=["401", "400", "no-vector", "not-json", "html-page"],
)
def test_embedding_errors_retrying_cannot_fix(embedding_server, mode, behaviour, error):
    embedding_server.push(behaviour)
    with pytest.raises(error):
        run(mode, embedder(embedding_server, cache=False), "hello")
    assert embedding_server.count == 1


def test_an_embedding_call_has_a_deadline(embedding_server, mode):
    def slow():
        time.sleep(3.0)
        return EmbeddingServer.vector([1.0])()

    embedding_server.push(slow)
    client = embedder(embedding_server, timeout=0.3, retry=RetryPolicy(max_attempts=1))
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError):
        run(mode, client, "hello")
    assert time.monotonic() - started < 2.5  # liveness: the server would take 3 s


def test_embedding_budgets(embedding_server, mode):
    client = embedder(embedding_server, cache=False, max_calls=1)
    run(mode, client, "one")
    with pytest.raises(BudgetExceeded):
        run(mode, client, "two")
    assert embedding_server.count == 1


def test_traces_embed_helper_returns_none_on_failure(embedding_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_BASE", embedding_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    assert embed("openai/e", "hello") == [0.5, -1.0]
    embedding_server.push(*[embedding_server.status(500, "down")] * 2)
    assert embed("openai/e", "fresh text", max_retries=1, base_delay=0.0) is None
    assert embedding_server.count == 3  # one call, then two attempts: nothing hidden
    with pytest.raises(RateLimitError):
        embedding_server.push(embedding_server.status(429, "quota", {"Retry-After": "3600"}))
        Embedder("openai/e", retry=FAST_RETRY, cache=False)("again")
