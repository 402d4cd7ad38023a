"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions protocol.

Tests queue behaviours (a reply, an error status, a slow reply, a broken body, a stream);
requests beyond the queue get the default behaviour, which echoes the last user message.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import opto.llm as llm_pkg

Behaviour = Callable[[dict], Response]


def completion(
    text: str, *, model: str = "local", finish_reason: str = "stop", usage=(10, 5), n=1
) -> dict:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": text if n == 1 else f"{text} #{i}"},
                "finish_reason": finish_reason,
            }
            for i in range(n)
        ],
    }
    if usage is not None:
        body["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
        }
    return body


def reply(text: str, **options) -> Behaviour:
    return lambda body: Response(
        json.dumps(completion(text, **options)), content_type="application/json"
    )


def echo(body: dict) -> Response:
    last = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    return Response(
        json.dumps(completion(f"echo: {last}", model=body.get("model", ""), n=body.get("n", 1))),
        content_type="application/json",
    )


def status(
    code: int, message: str = "error", headers: dict | None = None, error_type: str = "x"
) -> Behaviour:
    payload = json.dumps({"error": {"message": message, "type": error_type, "code": None}})
    return lambda body: Response(
        payload, status=code, headers=headers or {}, content_type="application/json"
    )


def raw(text: str, content_type: str = "application/json") -> Behaviour:
    return lambda body: Response(text, content_type=content_type)


def slow(seconds: float, then: Behaviour = echo) -> Behaviour:
    def behaviour(body: dict) -> Response:
        time.sleep(seconds)
        return then(body)

    return behaviour


def stream(pieces: list[str], finish_reason: str = "stop", usage=(7, 3)) -> Behaviour:
    def behaviour(body: dict) -> Response:
        def events() -> Iterator[str]:
            base = {
                "id": "chatcmpl-s",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "local",
            }
            first = {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "finish_reason": None,
                    }
                ],
            }
            yield f"data: {json.dumps(first)}\n\n"
            for piece in pieces:
                chunk = {
                    **base,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
                yield f"data: {json.dumps(chunk)}\n\n"
            last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]}
            yield f"data: {json.dumps(last)}\n\n"
            if usage is not None:
                tail = {
                    **base,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": usage[0],
                        "completion_tokens": usage[1],
                        "total_tokens": sum(usage),
                    },
                }
                yield f"data: {json.dumps(tail)}\n\n"
            yield "data: [DONE]\n\n"

        return Response(events(), content_type="text/event-stream")

    return behaviour


class ChatServer:
    """Queue of behaviours in front of a threaded pytest-httpserver.

    The behaviour builders are attributes too (`chat_server.reply("hi")`), so test modules
    need not import this conftest.
    """

    completion = staticmethod(completion)
    reply = staticmethod(reply)
    echo = staticmethod(echo)
    status = staticmethod(status)
    raw = staticmethod(raw)
    slow = staticmethod(slow)
    stream = staticmethod(stream)

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.queue: deque[Behaviour] = deque()
        self.default: Behaviour = echo
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
            self._handle
        )

    @property
    def url(self) -> str:
        return self.server.url_for("/v1")

    @property
    def count(self) -> int:
        return len(self.bodies)

    def wait_for_count(self, expected: int, limit: float = 10.0) -> int:
        """The request count once it reaches `expected` (or after `limit` seconds): a client
        that timed out may have given up before the server thread logged its request."""
        deadline = time.monotonic() + limit
        while self.count < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.count

    def push(self, *behaviours: Behaviour) -> None:
        self.queue.extend(behaviours)

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.get_data(as_text=True))
        with self._lock:
            self.bodies.append(body)
            self.headers.append(dict(request.headers))
            behaviour = self.queue.popleft() if self.queue else self.default
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return behaviour(body)
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.fixture(scope="module")
def http_server() -> Iterator[HTTPServer]:
    """One threaded server per test module (stopping one takes half a second)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def chat_server(http_server: HTTPServer) -> ChatServer:
    """A fresh queue, log and default behaviour for each test."""
    http_server.clear()
    return ChatServer(http_server)


@pytest.fixture(autouse=True)
def isolated_llm_state(tmp_path, monkeypatch):
    """Fresh ledger and a cache in a temporary folder; no LLM variables from the environment."""
    for name in list(os.environ):
        if name.startswith(("OPTO_", "TRACE_")) or name in (
            "DEFAULT_LITELLM_MODEL",
            "OPENAI_API_KEY",
        ):
            monkeypatch.delenv(name, raising=False)
    llm_pkg.reset_usage()
    llm_pkg.configure_cache(enabled=None, directory=tmp_path / "cache")
    yield
    llm_pkg.get_cache().close()
    llm_pkg.reset_usage()


def _loopback(address) -> bool:
    if not isinstance(address, tuple):
        return True  # a unix socket path
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True, scope="session")
def no_network():
    """Any connection to a non-loopback address fails the test that makes it."""
    original_connect, original_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        if not _loopback(address):
            raise OSError(f"network access is blocked in tests: {address!r}")
        return original_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in (None, "localhost") and not _loopback((host,)):
            raise socket.gaierror(f"name lookups are blocked in tests: {host!r}")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.getaddrinfo = getaddrinfo
    yield
    socket.socket.connect = original_connect
    socket.getaddrinfo = original_getaddrinfo
