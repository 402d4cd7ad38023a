"""What went over the wire during one attempt of a model call, as opto itself saw it.

Provider SDKs turn HTTP failures into exceptions whose wording changes from release to release
(litellm has reported a 200 reply without `choices` as a "500", with three different messages
in a year). So opto does not read their messages: an HTTP transport of its own sits under the
SDK's client, records the status, headers and body of every response made during an attempt,
and enforces the attempt's deadline while the body arrives. Errors are then classified from
that record (`provider_errors.py`), by HTTP status and by a body opto validates itself.

The transport wraps whatever HTTP library the SDK was built on (httpx, or httpx2 for newer
openai releases): both share the transport interface used here.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

MAX_RECORDED_BODY = 8 * 1024 * 1024  # a chat completion body is far smaller; more is not kept


@dataclass
class Exchange:
    """The last HTTP response of one attempt: status, headers and (non-streamed) body.

    `timeout` is the time the attempt's HTTP exchange may take, from its first request to the
    last byte of the reply (None for no limit); `deadline` is when that ends, set when the
    first request is sent (so building the SDK client does not count). `body` is None for
    server-sent event streams, which are checked chunk by chunk. `url`, `status` and
    `headers` (lower-case names) describe the response; `body_complete` is set once the last
    byte arrived and `body_truncated` when the body passed the recording limit.
    """

    timeout: float | None = None
    deadline: float | None = None
    url: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray | None = None
    body_complete: bool = False
    body_truncated: bool = False

    def start_response(self, url: str, status: int, headers: Any) -> None:
        """A response to `url` began with HTTP `status` and `headers`: forget the previous
        one (a redirect, an earlier attempt) and get ready to keep its body."""
        self.url, self.status = url, status
        self.headers = {str(key).lower(): str(value) for key, value in headers.items()}
        streamed = self.headers.get("content-type", "").startswith("text/event-stream")
        self.body = None if streamed else bytearray()
        self.body_complete = self.body_truncated = False

    def take(self, chunk: bytes) -> None:
        """Keep a chunk of the body (up to the recording limit)."""
        if self.body is None:
            return
        room = MAX_RECORDED_BODY - len(self.body)
        if len(chunk) > room:
            self.body_truncated = True
            chunk = chunk[: max(room, 0)]
        self.body += chunk

    def start_clock(self) -> None:
        """Start the `timeout` at the first request (later calls keep the first deadline)."""
        if self.deadline is None and self.timeout is not None:
            self.deadline = time.monotonic() + self.timeout

    def past_deadline(self) -> bool:
        """True once the exchange has taken longer than its `timeout`."""
        return self.deadline is not None and time.monotonic() > self.deadline

    def remaining(self) -> float | None:
        """Seconds left before the deadline (at least a millisecond, so a read still fails
        with a timeout rather than blocking forever), or None without one."""
        return None if self.deadline is None else max(0.001, self.deadline - time.monotonic())

    def full_body(self) -> bytes | None:
        """The whole body when it was received and kept in full, else None."""
        if self.body is None or not self.body_complete or self.body_truncated:
            return None
        return bytes(self.body)

    def body_json(self) -> Any:
        """The body parsed as JSON; raises ValueError (or RecursionError) when it is not JSON."""
        body = self.full_body()
        if body is None:
            raise ValueError("the body was not received in full")
        return json.loads(body)

    def body_excerpt(self, limit: int = 300) -> str:
        """The start of the body as text, at most `limit` characters, for error messages."""
        if not self.body:
            return ""
        text = bytes(self.body[: limit * 4]).decode("utf-8", "replace")
        return text if len(text) <= limit else text[:limit] + "..."


_CURRENT: ContextVar[Exchange | None] = ContextVar("opto_llm_exchange", default=None)


@contextmanager
def observing(timeout: float | None) -> Iterator[Exchange]:
    """Record the HTTP responses of the code inside, which must finish within `timeout` s."""
    exchange = Exchange(timeout=timeout)
    token = _CURRENT.set(exchange)
    try:
        yield exchange
    finally:
        _CURRENT.reset(token)


def _capped_timeouts(request: Any, exchange: Exchange) -> None:
    """No phase of the request (connect, write, each read) may wait past the deadline."""
    remaining = exchange.remaining()
    timeouts = request.extensions.get("timeout")
    if remaining is None or not isinstance(timeouts, dict):
        return
    request.extensions["timeout"] = {
        phase: remaining if value is None else min(value, remaining)
        for phase, value in timeouts.items()
    }


@functools.cache
def transport_classes(http: ModuleType) -> tuple[type, type]:
    """Observing transports (sync, async) for the HTTP library `http` (httpx or httpx2)."""

    def check(exchange: Exchange, request: Any) -> None:
        if exchange.past_deadline():
            raise http.ReadTimeout(
                "the reply did not arrive within the call's timeout", request=request
            )

    class ObservedStream(http.SyncByteStream):
        def __init__(self, inner: Any, exchange: Exchange, request: Any) -> None:
            self.inner, self.exchange, self.request = inner, exchange, request

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.inner:
                check(self.exchange, self.request)
                self.exchange.take(chunk)
                yield chunk
            self.exchange.body_complete = True

        def close(self) -> None:
            self.inner.close()

    class AsyncObservedStream(http.AsyncByteStream):
        def __init__(self, inner: Any, exchange: Exchange, request: Any) -> None:
            self.inner, self.exchange, self.request = inner, exchange, request

        async def __aiter__(self) -> Any:
            async for chunk in self.inner:
                check(self.exchange, self.request)
                self.exchange.take(chunk)
                yield chunk
            self.exchange.body_complete = True

        async def aclose(self) -> None:
            await self.inner.aclose()

    class ObservedTransport(http.BaseTransport):
        """Delegates to `inner`; records responses made inside `observing()`."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def handle_request(self, request: Any) -> Any:
            exchange = _CURRENT.get()
            if exchange is None:
                return self.inner.handle_request(request)
            exchange.start_clock()
            check(exchange, request)
            _capped_timeouts(request, exchange)
            response = self.inner.handle_request(request)
            exchange.start_response(str(request.url), response.status_code, response.headers)
            response.stream = ObservedStream(response.stream, exchange, request)
            return response

        def close(self) -> None:
            self.inner.close()

    class AsyncObservedTransport(http.AsyncBaseTransport):
        """The async twin of `ObservedTransport`."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def handle_async_request(self, request: Any) -> Any:
            exchange = _CURRENT.get()
            if exchange is None:
                return await self.inner.handle_async_request(request)
            exchange.start_clock()
            check(exchange, request)
            _capped_timeouts(request, exchange)
            response = await self.inner.handle_async_request(request)
            exchange.start_response(str(request.url), response.status_code, response.headers)
            response.stream = AsyncObservedStream(response.stream, exchange, request)
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

    return ObservedTransport, AsyncObservedTransport
