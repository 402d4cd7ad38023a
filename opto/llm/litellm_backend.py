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

from opto.llm.base import BaseLLM, Call
from opto.llm.config import require_module
from opto.llm.errors import (
    AuthenticationError,
    BackendUnavailableError,
    LLMConnectionError,
    MalformedResponseError,
    ServerError,
)
from opto.llm.provider_errors import translate_exception
from opto.llm.response import StreamAssembler

_import_lock = threading.Lock()
# litellm reports a missing key, a refused connection and a body that is not a chat
# completion as a 500; its messages give them away.
_MALFORMED_PHRASES = (
    "Expecting value",
    "Empty or invalid response",
    "Received response - <APIResponse [200",
    "that is not a list",
    "JSONDecodeError",
)
_NO_KEY_PHRASES = ("Missing credentials", "api_key client option must be set")


def import_litellm() -> Any:
    """Import litellm without network access at import time, configured once."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    with _import_lock:
        require_module("litellm", "litellm")
        import litellm

        if not getattr(litellm, "_opto_configured", False):
            litellm.telemetry = False
            litellm.suppress_debug_info = True
            litellm._opto_configured = True
    return litellm


def _as_dict(chunk: Any) -> Any:
    return chunk.model_dump() if hasattr(chunk, "model_dump") else chunk


class LiteLLMBackend(BaseLLM):
    """`litellm.completion` behind the choke point. `base_url` is litellm's `api_base`."""

    backend_name = "litellm"

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, **options)
        self.base_url = base_url
        self.api_key = api_key

    def _params(self, call: Call) -> dict[str, Any]:
        params = {**call.request, "num_retries": 0, "max_retries": 0}
        if call.timeout is not None:
            params["timeout"] = call.timeout
        if self.base_url:
            params["api_base"] = self.base_url
        if self.api_key:
            params["api_key"] = self.api_key
        token_provider = _azure_token_provider(call.model)
        if token_provider is not None:
            params.setdefault("azure_ad_token_provider", token_provider)
        if call.stream:
            params["stream"] = True
            params.setdefault("stream_options", {"include_usage": True})
        return params

    def _translate_error(self, exc: BaseException, call: Call) -> BaseException:
        error = translate_exception(exc, call.model)
        if isinstance(error, ServerError) and any(p in str(exc) for p in _NO_KEY_PHRASES):
            return AuthenticationError(
                f"no API key: {error.provider_message}; set the provider's key variable "
                "(OPENAI_API_KEY, ANTHROPIC_API_KEY, ...) or OPTO_LLM_API_KEY",
                model=call.model,
                provider_message=error.provider_message,
            )
        if isinstance(error, ServerError) and "Connection error" in str(exc):
            return LLMConnectionError(
                f"could not reach the server: {error.provider_message}",
                model=call.model,
                provider_message=error.provider_message,
            )
        if isinstance(error, ServerError) and any(p in str(exc) for p in _MALFORMED_PHRASES):
            return MalformedResponseError(
                f"server reply is not a valid chat completion: {error.provider_message}",
                model=call.model,
                provider_message=error.provider_message,
            )
        return error

    def _complete(self, call: Call) -> Any:
        litellm = import_litellm()
        reply = litellm.completion(**self._params(call))
        if not call.stream:
            return _as_dict(reply)
        assembler = StreamAssembler(call.model, call.on_delta)
        for chunk in reply:
            assembler.add(_as_dict(chunk))
        return assembler.result()

    async def _acomplete(self, call: Call) -> Any:
        litellm = import_litellm()
        reply = await litellm.acompletion(**self._params(call))
        if not call.stream:
            return _as_dict(reply)
        assembler = StreamAssembler(call.model, call.on_delta)
        async for chunk in reply:
            assembler.add(_as_dict(chunk))
        return assembler.result()


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
