"""The openai SDK clients of one backend, built on opto's observing HTTP transport.

Both backends use them: the openai backend for every call, the litellm backend for models it
routes through the openai SDK ("openai/..." models, i.e. any OpenAI-compatible server), by
handing litellm the client. Either way the HTTP responses pass through
`http_observer.ObservedTransport`, so errors are classified from what the server really sent.

One sync client is shared by all threads; async clients are made per event loop, because an
async connection pool cannot move between loops, and each is closed when its loop shuts down.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
import weakref
from types import ModuleType
from typing import Any

from opto.llm.config import require_module
from opto.llm.errors import AuthenticationError
from opto.llm.http_observer import transport_classes

LOCAL_SERVER_KEY = "not-needed"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


def sdk_http_module(openai: ModuleType) -> ModuleType:
    """The HTTP library the installed openai SDK is built on (httpx, or httpx2 since 2.x)."""
    for cls in openai.DefaultHttpxClient.__mro__[1:]:
        root = cls.__module__.split(".")[0]
        if root != "openai":
            return importlib.import_module(root)
    raise ImportError("cannot tell which HTTP library the openai SDK uses")


class OpenAIClients:
    """Lazily built openai SDK clients for one endpoint.

    Args:
        base_url: the endpoint (None: the SDK's default, OpenAI itself, or OPENAI_BASE_URL).
        api_key: the key (None: OPENAI_API_KEY; a placeholder when `base_url` is a local
            server that needs none).
        client_options: passed to the SDK client (e.g. `default_headers`). An `http_client`
            given here is used as it is, without opto's transport: errors through it are then
            classified by exception type only.
        model: named in the error raised when no key can be found.
    """

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        client_options: dict[str, Any] | None = None,
        model: str | None = None,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.client_options = dict(client_options or {})
        self.model = model
        self._lock = threading.Lock()
        self._sync: Any = None
        self._async: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def endpoint(self) -> str:
        """The URL requests go to, for error messages."""
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_URL

    def open_async_clients(self) -> list[Any]:
        """The async clients of event loops still running (each is closed with its loop)."""
        with self._lock:
            return [entry[0] for entry in self._async.values()]

    def reset(self) -> None:
        """Forget the clients; the next call builds fresh ones."""
        with self._lock:
            self._sync = None
            self._async = weakref.WeakKeyDictionary()

    def _kwargs(self, openai: ModuleType, *, asynchronous: bool) -> dict[str, Any]:
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        if not key and self.base_url:
            key = LOCAL_SERVER_KEY
        if not key:
            raise AuthenticationError(
                "no API key for the OpenAI API: set OPENAI_API_KEY or OPTO_LLM_API_KEY, "
                "or set OPTO_LLM_BASE_URL for a local server that needs none",
                model=self.model,
                base_url=self.endpoint,
            )
        kwargs = {"api_key": key, "base_url": self.base_url, "max_retries": 0}
        kwargs.update(self.client_options)
        if "http_client" not in kwargs:
            http = sdk_http_module(openai)
            sync_transport, async_transport = transport_classes(http)
            if asynchronous:
                kwargs["http_client"] = openai.DefaultAsyncHttpxClient(
                    transport=async_transport(http.AsyncHTTPTransport())
                )
            else:
                kwargs["http_client"] = openai.DefaultHttpxClient(
                    transport=sync_transport(http.HTTPTransport())
                )
        return kwargs

    def sync(self) -> Any:
        """The shared `openai.OpenAI` client."""
        with self._lock:
            if self._sync is None:
                require_module("openai", "openai")
                import openai

                self._sync = openai.OpenAI(**self._kwargs(openai, asynchronous=False))
            return self._sync

    async def for_running_loop(self) -> Any:
        """The `openai.AsyncOpenAI` client of the running event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._async.get(loop)
            if entry is not None:
                return entry[0]
            require_module("openai", "openai")
            import openai

            client = openai.AsyncOpenAI(**self._kwargs(openai, asynchronous=True))
            closer = self._close_with_loop(loop, client)
            self._async[loop] = (client, closer)  # the entry keeps the closer alive
        await closer.__anext__()
        return client

    async def _close_with_loop(self, loop: asyncio.AbstractEventLoop, client: Any) -> Any:
        """An async generator parked until its loop shuts down (`asyncio.run` closes every
        open async generator first): then it closes the client's connections on that loop,
        instead of leaving them to be closed later on a loop that no longer exists."""
        try:
            yield
        finally:
            with self._lock:
                entry = self._async.get(loop)
                if entry is not None and entry[0] is client:
                    del self._async[loop]
            await client.close()
