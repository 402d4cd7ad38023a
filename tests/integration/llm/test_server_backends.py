"""Both real backends (openai SDK and litellm) against a real loopback chat-completions server."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from opto.llm import (
    LLM,
    AuthenticationError,
    BudgetExceeded,
    ContextWindowError,
    LLMConnectionError,
    LLMTimeoutError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TruncationWarning,
    budget,
    get_usage,
)

BACKENDS = ["openai", "litellm"]
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_total_wait=5.0)


def client(server, backend, **options):
    model = "local" if backend == "openai" else "openai/local"
    options.setdefault("retry", FAST_RETRY)
    return LLM(model, backend=backend, base_url=server.url, api_key="test-key", **options)


def messages(text="Say hi"):
    return [{"role": "system", "content": "You are terse."}, {"role": "user", "content": text}]


@pytest.mark.parametrize("backend", BACKENDS)
def test_plain_reply_and_what_the_server_receives(chat_server, backend):
    chat_server.push(chat_server.reply("Hello!", usage=(12, 3)))
    llm = client(chat_server, backend)
    response = llm(
        messages=messages(), max_tokens=50, temperature=0.3, response_format={"type": "json_object"}
    )
    assert response.choices[0].message.content == "Hello!"
    assert response.choices[0].finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (12, 3)
    assert response.usage.attempts == 1 and not response.usage.estimated
    body = chat_server.bodies[0]
    assert body["model"] == "local" and body["messages"] == messages()
    assert body["max_tokens"] == 50 and body["temperature"] == 0.3
    assert body["response_format"] == {"type": "json_object"}
    assert chat_server.headers[0]["Authorization"] == "Bearer test-key"
    stats = get_usage().by_model[llm.model]
    assert (stats.calls, stats.prompt_tokens, stats.completion_tokens) == (1, 12, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_several_choices(chat_server, backend):
    response = client(chat_server, backend)(messages=messages("x"), n=2)
    assert [c.message.content for c in response.choices] == ["echo: x #0", "echo: x #1"]
    assert chat_server.bodies[0]["n"] == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_streaming_sync_and_async(chat_server, backend):
    llm = client(chat_server, backend)
    chat_server.push(
        chat_server.stream(["Hel", "lo", "!"]),
        chat_server.stream(["a", "b"], finish_reason="length"),
    )
    pieces = []
    response = llm(messages=messages(), stream=True, on_delta=pieces.append)
    assert response.content == "Hello!" and pieces == ["Hel", "lo", "!"]
    assert response.usage.completion_tokens == 3 and response.finish_reason == "stop"
    assert chat_server.bodies[0]["stream"] is True
    with pytest.warns(TruncationWarning):
        truncated = asyncio.run(llm.acall(messages=messages(), stream=True))
    assert truncated.content == "ab" and truncated.truncated


@pytest.mark.parametrize("backend", BACKENDS)
def test_429_with_retry_after_then_success(chat_server, backend):
    chat_server.push(
        chat_server.status(429, "Rate limit reached", {"Retry-After": "2"}),
        chat_server.reply("finally"),
    )
    llm = client(chat_server, backend)
    waits = []
    llm._sleep = waits.append
    response = llm(messages=messages())
    assert response.content == "finally" and response.usage.attempts == 2
    assert waits == [2.0] and chat_server.count == 2
    assert get_usage().total.retries == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_retry_after_beyond_the_wait_bound_fails_at_once(chat_server, backend):
    chat_server.push(chat_server.status(429, "come back in an hour", {"Retry-After": "3600"}))
    with pytest.raises(RateLimitError, match="come back in an hour") as info:
        client(chat_server, backend)(messages=messages())
    assert info.value.retry_after == 3600 and info.value.status_code == 429
    assert chat_server.count == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_quota_errors_are_not_retried(chat_server, backend):
    chat_server.push(
        chat_server.status(429, "You exceeded your current quota", error_type="insufficient_quota")
    )
    with pytest.raises(RateLimitError, match="quota"):
        client(chat_server, backend)(messages=messages())
    assert chat_server.count == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_server_errors_are_retried_then_reported(chat_server, backend):
    llm = client(chat_server, backend)
    chat_server.push(
        chat_server.status(500, "boom"),
        chat_server.status(503, "overloaded"),
        chat_server.reply("recovered"),
    )
    assert llm(messages=messages()).content == "recovered"
    assert chat_server.count == 3
    chat_server.push(*[chat_server.status(500, "still broken")] * 4)
    with pytest.raises(ServerError, match="still broken") as info:
        llm(messages=messages())
    assert info.value.attempts == FAST_RETRY.max_attempts
    assert chat_server.count == 3 + FAST_RETRY.max_attempts  # no hidden SDK retries


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("code", "message", "error"),
    [
        (400, "This model's maximum context length is 4096 tokens", ContextWindowError),
        (401, "Incorrect API key provided", AuthenticationError),
        (404, "The model `local` does not exist", NotFoundError),
    ],
)
def test_client_errors_are_typed_and_not_retried(chat_server, backend, code, message, error):
    chat_server.push(chat_server.status(code, message))
    with pytest.raises(error) as info:
        client(chat_server, backend)(messages=messages())
    assert message in str(info.value) and chat_server.count == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_timeouts_sync_and_async(chat_server, backend):
    llm = client(
        chat_server, backend, timeout=0.15, retry=RetryPolicy(max_attempts=2, base_delay=0.0)
    )
    chat_server.push(chat_server.slow(0.6), chat_server.slow(0.6))
    with pytest.raises(LLMTimeoutError) as info:
        llm(messages=messages())
    assert info.value.attempts == 2 and chat_server.wait_for_count(2) == 2
    chat_server.push(chat_server.slow(0.6), chat_server.slow(0.6))
    with pytest.raises(LLMTimeoutError):
        asyncio.run(llm.acall(messages=messages()))
    assert chat_server.wait_for_count(4) == 4


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("not json{", "application/json"),
        ("<html><body>Login</body></html>", "text/html"),
        ('{"foo": 1}', "application/json"),
    ],
    ids=["not-json", "html-page", "no-choices"],
)
def test_malformed_bodies(chat_server, backend, body, content_type):
    chat_server.push(chat_server.raw(body, content_type))
    with pytest.raises(MalformedResponseError):
        client(chat_server, backend)(messages=messages())
    assert chat_server.count == 1


def _unused_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_connection_refused_fails_at_once_naming_url_and_model(backend):
    url = f"http://127.0.0.1:{_unused_port()}/v1"
    model = "local" if backend == "openai" else "openai/local"
    llm = LLM(model, backend=backend, base_url=url, api_key="k")  # the default retry policy
    for call in (lambda: llm(messages=messages()), lambda: asyncio.run(llm.acall(messages()))):
        started = time.monotonic()
        with pytest.raises(LLMConnectionError) as info:
            call()
        assert time.monotonic() - started < 10  # no backoff loop (about 27 s before)
        assert info.value.attempts == 1 and not info.value.retryable
        text = str(info.value)
        assert url in text and repr(model) in text and "connection refused" in text
        assert "OPTO_LLM_BASE_URL" in text
        assert info.value.__suppress_context__ and info.value.original is not None


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_host_fails_at_once_naming_it(backend, monkeypatch):
    def no_such_host(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    url = "http://opto-no-such-host.invalid/v1"
    model = "local" if backend == "openai" else "openai/local"
    llm = LLM(model, backend=backend, base_url=url, api_key="k")
    with pytest.raises(LLMConnectionError) as info:
        llm(messages=messages())
    assert info.value.attempts == 1 and "unknown" in str(info.value) and url in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_threads_respect_the_client_limit(chat_server, backend):
    chat_server.default = chat_server.slow(0.05, chat_server.echo)
    llm = client(chat_server, backend, max_concurrency=4)
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda i: llm(messages=messages(f"q{i}")).content, range(24)))
    assert replies == [f"echo: q{i}" for i in range(24)]
    assert chat_server.count == 24 and 1 <= chat_server.max_in_flight <= 4
    assert llm.usage.total.calls == 24


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_async_tasks_and_threads_share_the_limit(chat_server, backend):
    chat_server.default = chat_server.slow(0.05, chat_server.echo)
    llm = client(chat_server, backend, max_concurrency=3)

    async def many():
        return await asyncio.gather(*(llm.acall(messages=messages(f"a{i}")) for i in range(12)))

    thread_replies = []
    worker = threading.Thread(
        target=lambda: thread_replies.extend(
            llm(messages=messages(f"t{i}")).content for i in range(4)
        )
    )
    worker.start()
    replies = asyncio.run(many())
    worker.join(30)
    assert [r.content for r in replies] == [f"echo: a{i}" for i in range(12)]
    assert thread_replies == [f"echo: t{i}" for i in range(4)]
    assert chat_server.max_in_flight <= 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_truncated_reply_is_reported(chat_server, backend):
    chat_server.push(chat_server.reply("partial", finish_reason="length"))
    with pytest.warns(TruncationWarning, match="max_tokens=5"):
        response = client(chat_server, backend)(messages=messages(), max_tokens=5)
    assert response.truncated and get_usage().total.truncated == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_budget_stops_before_the_call_that_would_exceed(chat_server, backend):
    chat_server.default = chat_server.reply("ok", usage=(10, 10))
    llm = client(chat_server, backend, prices=(0.001, 0.002))
    with budget(max_cost=0.07) as scope:
        llm(messages=messages(), max_tokens=10)
        llm(messages=messages(), max_tokens=10)
        with pytest.raises(BudgetExceeded, match="max_cost"):
            llm(messages=messages(), max_tokens=10)
    assert chat_server.count == 2 and scope.spent == pytest.approx(0.06)
    capped = client(chat_server, backend, max_calls=1)
    capped(messages=messages())
    with pytest.raises(BudgetExceeded, match="max_calls"):
        capped(messages=messages())
    assert chat_server.count == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_temperature_zero_is_cached_in_process(chat_server, backend):
    llm = client(chat_server, backend)
    first = llm(messages=messages(), temperature=0)
    second = llm(messages=messages(), temperature=0)
    assert first.content == second.content and second.cache_hit
    assert chat_server.count == 1 and second.usage.total_tokens == 0
    llm(messages=messages(), temperature=0.5)
    llm(messages=messages(), temperature=0.5)
    assert chat_server.count == 3
    assert get_usage().total.cache_hits == 1


def test_async_clients_are_closed_with_their_event_loop(chat_server, caplog):
    llm = client(chat_server, "openai")
    seen = []

    async def call():
        response = await llm.acall(messages=messages("loop"))
        seen.extend(llm.clients.open_async_clients())
        return response

    for _ in range(3):
        assert asyncio.run(call()).content == "echo: loop"
    gc.collect()
    assert llm.clients.open_async_clients() == []
    assert all(c.is_closed() for c in seen) and len(set(map(id, seen))) == 3
    assert "Event loop is closed" not in caplog.text


class _TricklingServer:
    """Answers 200 with headers at once, then one byte of body every 0.2 s for 15 s: each read
    of the body is quick, so only a deadline on the whole attempt ends the call early."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn):
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"
            )
            ends = time.monotonic() + 15
            while not self.stop.wait(0.2) and time.monotonic() < ends:
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    def close(self):
        self.stop.set()
        self.listener.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_timeout_is_a_deadline_for_the_whole_attempt(backend):
    server = _TricklingServer()
    try:
        model = "local" if backend == "openai" else "openai/local"
        llm = LLM(
            model,
            backend=backend,
            base_url=server.url,
            api_key="k",
            timeout=1.0,
            retry=RetryPolicy(max_attempts=1),
        )
        for call in (lambda: llm(messages=messages()), lambda: asyncio.run(llm.acall(messages()))):
            started = time.monotonic()
            with pytest.raises(LLMTimeoutError):
                call()
            assert time.monotonic() - started < 8  # the trickle lasts 15 s
    finally:
        server.close()
