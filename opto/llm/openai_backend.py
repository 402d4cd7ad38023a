"""The openai SDK backend: OpenAI itself or any OpenAI-compatible server.

Ollama, vLLM, llama.cpp's server, LM Studio and Azure's v1 endpoint all speak the
chat-completions protocol; point `base_url` at them. The SDK's own retries are disabled
(retries belong to the choke point). One sync client is shared by all threads; async clients
are made per event loop, because an httpx async pool cannot move between loops.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from typing import Any

from opto.llm.base import BaseLLM, Call
from opto.llm.config import require_module
from opto.llm.errors import AuthenticationError
from opto.llm.response import StreamAssembler

LOCAL_SERVER_KEY = "not-needed"


class OpenAIBackend(BaseLLM):
    """`openai.OpenAI(base_url=..., api_key=...).chat.completions.create` behind the choke point.

    A server at `base_url` that needs no key gets a placeholder key. `client_options` go to the
    SDK client (e.g. `default_headers`, `http_client`).
    """

    backend_name = "openai"

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.client_options = dict(client_options or {})
        super().__init__(model, **options)

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self._client_lock = threading.Lock()
        self._client: Any = None
        self._async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _runtime_fields(self) -> tuple[str, ...]:
        return (*super()._runtime_fields(), "_client_lock", "_client", "_async_clients")

    def _reset_client(self) -> None:
        with self._client_lock:
            self._client = None
            self._async_clients = weakref.WeakKeyDictionary()

    def _client_kwargs(self) -> dict[str, Any]:
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        if not key and self.base_url:
            key = LOCAL_SERVER_KEY
        if not key:
            raise AuthenticationError(
                "no API key for the openai backend: set OPENAI_API_KEY or OPTO_LLM_API_KEY, "
                "or set OPTO_LLM_BASE_URL for a local server that needs none",
                model=self.model,
            )
        return {"api_key": key, "base_url": self.base_url, "max_retries": 0, **self.client_options}

    def _sync_client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                require_module("openai", "openai")
                import openai

                self._client = openai.OpenAI(**self._client_kwargs())
            return self._client

    async def _async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        with self._client_lock:
            entry = self._async_clients.get(loop)
            if entry is not None:
                return entry[0]
            require_module("openai", "openai")
            import openai

            client = openai.AsyncOpenAI(**self._client_kwargs())
            closer = self._close_with_loop(loop, client)
            self._async_clients[loop] = (client, closer)  # the entry keeps the closer alive
        await closer.__anext__()
        return client

    async def _close_with_loop(self, loop: asyncio.AbstractEventLoop, client: Any) -> Any:
        """An async generator parked until its loop shuts down (`asyncio.run` closes every
        open async generator first): then it closes the client's connections on that loop,
        instead of leaving them to be closed later on a loop that no longer exists."""
        try:
            yield
        finally:
            with self._client_lock:
                entry = self._async_clients.get(loop)
                if entry is not None and entry[0] is client:
                    del self._async_clients[loop]
            await client.close()

    def _params(self, call: Call) -> dict[str, Any]:
        params = dict(call.request)
        if call.timeout is not None:
            params["timeout"] = call.timeout
        if call.stream:
            params["stream"] = True
            params.setdefault("stream_options", {"include_usage": True})
        return params

    def _complete(self, call: Call) -> Any:
        reply = self._sync_client().chat.completions.create(**self._params(call))
        if not call.stream:
            return reply
        assembler = StreamAssembler(call.model, call.on_delta)
        for chunk in reply:
            assembler.add(chunk.model_dump())
        return assembler.result()

    async def _acomplete(self, call: Call) -> Any:
        reply = await (await self._async_client()).chat.completions.create(**self._params(call))
        if not call.stream:
            return reply
        assembler = StreamAssembler(call.model, call.on_delta)
        async for chunk in reply:
            assembler.add(chunk.model_dump())
        return assembler.result()
