"""The openai SDK backend: OpenAI itself or any OpenAI-compatible server.

Ollama, vLLM, llama.cpp's server, LM Studio and Azure's v1 endpoint all speak the
chat-completions protocol; point `base_url` at them. The SDK's own retries are disabled
(retries belong to the choke point), and its HTTP goes through opto's observing transport
(`openai_clients.py`), so failures are classified from what the server sent.
"""

from __future__ import annotations

from typing import Any

from opto.llm.base import BaseLLM
from opto.llm.client import Call
from opto.llm.openai_clients import OpenAIClients
from opto.llm.response import StreamAssembler


class OpenAIBackend(BaseLLM):
    """`openai.OpenAI(base_url=..., api_key=...).chat.completions.create` behind the choke point.

    A server at `base_url` that needs no key gets a placeholder key. `client_options` go to the
    SDK client (e.g. `default_headers`, `http_client`). `model` is the name the server
    serves; `api_key` the key (None: OPENAI_API_KEY). Other keyword arguments are `BaseLLM`
    options and default request parameters.
    """

    backend_name = "openai"
    enforces_timeout = True  # the SDK's timeout and opto's observing transport

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
        self._clients = OpenAIClients(
            base_url=self.base_url,
            api_key=self.api_key,
            client_options=self.client_options,
            model=self.model,
        )

    def _runtime_fields(self) -> tuple[str, ...]:
        return (*super()._runtime_fields(), "_clients")

    @property
    def endpoint(self) -> str:
        return self._clients.endpoint

    @property
    def clients(self) -> OpenAIClients:
        """The SDK clients this backend calls through."""
        return self._clients

    def _reset_client(self) -> None:
        self._clients.reset()

    def _params(self, call: Call) -> dict[str, Any]:
        params = dict(call.request)
        if call.timeout is not None:
            params["timeout"] = call.timeout
        if call.stream:
            params["stream"] = True
            params.setdefault("stream_options", {"include_usage": True})
        return params

    def _complete(self, call: Call) -> Any:
        reply = self._clients.sync().chat.completions.create(**self._params(call))
        if not call.stream:
            return reply
        assembler = StreamAssembler(call.model, call.on_delta)
        for chunk in reply:
            assembler.add(chunk.model_dump())
        return assembler.result()

    async def _acomplete(self, call: Call) -> Any:
        client = await self._clients.for_running_loop()
        reply = await client.chat.completions.create(**self._params(call))
        if not call.stream:
            return reply
        assembler = StreamAssembler(call.model, call.on_delta)
        async for chunk in reply:
            assembler.add(chunk.model_dump())
        return assembler.result()
