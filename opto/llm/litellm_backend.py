"""The default backend: litellm, which speaks to 100+ providers.

litellm is imported on first use only, with its network look-up of the price map and its
telemetry switched off, and its own retries disabled: retries belong to the choke point.
For an OpenAI-compatible server use the model name "openai/<name>" and `base_url`.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

from opto.llm.base import BaseLLM
from opto.llm.client import Call
from opto.llm.config import require_module
from opto.llm.errors import BackendUnavailableError
from opto.llm.openai_clients import OpenAIClients
from opto.llm.response import StreamAssembler

_import_lock = threading.Lock()


def import_litellm() -> Any:
    """Import litellm without network access at import time, configured once."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    with _import_lock:
        require_module("litellm", "litellm")
        import litellm

        _configure(litellm)
    return litellm


@lru_cache(maxsize=1)
def _configure(litellm: Any) -> None:
    """Switch litellm's telemetry and debug banner off, once per process (a later change by
    the program stays)."""
    litellm.telemetry = False
    litellm.suppress_debug_info = True


def _as_dict(chunk: Any) -> Any:
    return chunk.model_dump() if hasattr(chunk, "model_dump") else chunk


class LiteLLMConnection:
    """Where a litellm client sends its calls, kept between calls: `base_url` (litellm's
    `api_base`), `api_key`, and opto's openai SDK clients for the models litellm sends through
    that SDK ("openai/<name>", the way to reach any OpenAI-compatible server), so their HTTP
    passes through opto's observing transport. Mixed into the chat backend (`LiteLLMBackend`)
    and the embedding client (`opto.llm.embedding.Embedder`), before their `ModelClient` base.

    `model` is litellm's model name (``provider/name``); other keyword arguments go on to the
    `ModelClient` base.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        **options: Any,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        super().__init__(model, **options)

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self._clients = OpenAIClients(
            base_url=self.base_url or os.environ.get("OPENAI_API_BASE"),
            api_key=self.api_key,
            model=self.model,
        )

    def _runtime_fields(self) -> tuple[str, ...]:
        return (*super()._runtime_fields(), "_clients")

    @property
    def endpoint(self) -> str | None:
        """The server calls go to, for messages and `opto doctor`: the OpenAI SDK client's
        base URL for models litellm sends through it, else `base_url` (None: litellm's
        default for the provider)."""
        if self.model and uses_openai_sdk(self.model):
            return self._clients.endpoint
        return self.base_url

    def _reset_client(self) -> None:
        self._clients.reset()

    def _litellm_params(self, call: Call, client: Any = None) -> dict[str, Any]:
        """Keyword arguments of a litellm call: the request, the attempt's timeout, litellm's
        own retries off, and `client` (opto's SDK client) or else the endpoint and key."""
        params = {**call.request, "num_retries": 0, "max_retries": 0}
        if call.timeout is not None:
            params["timeout"] = call.timeout
        if client is not None:
            params["client"] = client
        else:
            if self.base_url:
                params["api_base"] = self.base_url
            if self.api_key:
                params["api_key"] = self.api_key
        return params


class LiteLLMBackend(LiteLLMConnection, BaseLLM):
    """`litellm.completion` behind the choke point. `base_url` is litellm's `api_base`.

    Models litellm sends through the openai SDK get an SDK client built by opto (see
    `LiteLLMConnection`), so failures are classified from what the server sent. Other
    providers' failures are classified by exception type and status.
    """

    backend_name = "litellm"
    enforces_timeout = True  # the SDK's timeout and opto's observing transport

    def _params(self, call: Call, client: Any) -> dict[str, Any]:
        params = self._litellm_params(call, client)
        token_provider = _azure_token_provider(call.model)
        if token_provider is not None:
            params.setdefault("azure_ad_token_provider", token_provider)
        if call.stream:
            params["stream"] = True
            params.setdefault("stream_options", {"include_usage": True})
        return params

    def _complete(self, call: Call) -> Any:
        litellm = import_litellm()
        client = self._clients.sync() if uses_openai_sdk(call.model) else None
        reply = litellm.completion(**self._params(call, client))
        if not call.stream:
            return _as_dict(reply)
        assembler = StreamAssembler(call.model, call.on_delta)
        for chunk in reply:
            assembler.add(_as_dict(chunk))
        return assembler.result()

    async def _acomplete(self, call: Call) -> Any:
        litellm = import_litellm()
        client = None
        if uses_openai_sdk(call.model):
            client = await self._clients.for_running_loop()
        reply = await litellm.acompletion(**self._params(call, client))
        if not call.stream:
            return _as_dict(reply)
        assembler = StreamAssembler(call.model, call.on_delta)
        async for chunk in reply:
            assembler.add(_as_dict(chunk))
        return assembler.result()


@lru_cache(maxsize=256)
def uses_openai_sdk(model: str) -> bool:
    """Whether litellm sends `model` to OpenAI's chat API (an "openai/..." model, or a model it
    knows as OpenAI's), which it does through the openai SDK client opto can hand it."""
    try:
        provider = import_litellm().get_llm_provider(model)[1]
    except Exception:  # litellm cannot place the model: its own call will say so
        return False
    return provider == "openai"


def _azure_token_provider(model: str) -> Any:
    """Trace's Azure AD login: for azure/ models when AZURE_TOKEN_PROVIDER_SCOPE is set."""
    scope = os.environ.get("AZURE_TOKEN_PROVIDER_SCOPE")
    if not scope or not model.startswith("azure/"):
        return None
    return _token_provider_for(scope, model)


@lru_cache(maxsize=4)
def _token_provider_for(scope: str, model: str) -> Any:
    try:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError as exc:
        raise BackendUnavailableError(
            "AZURE_TOKEN_PROVIDER_SCOPE is set but azure-identity is not installed: "
            "pip install azure-identity",
            model=model,
        ) from exc
    return get_bearer_token_provider(DefaultAzureCredential(), scope)
