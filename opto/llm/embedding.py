"""Text embeddings through litellm, behind the same engine as chat calls.

An `Embedder` is a `ModelClient`: an embedding call goes through the same plan as a chat call,
sync or async (retries with backoff, timeouts, the deadline, the concurrency limit, typed
errors) and is booked the same way (cache, budgets, usage ledger, history). Embeddings never
vary for a given text, so the cache rule keeps them unless the cache is switched off.

Models litellm sends through the openai SDK ("openai/<name>", any OpenAI-compatible server) get
opto's own SDK client, as chat calls do: their HTTP passes through opto's observing transport
and litellm makes no retries of its own.
"""

from __future__ import annotations

import os
from typing import Any

from opto.llm.client import Call, ModelClient
from opto.llm.dry_run import DryRunRecorder
from opto.llm.errors import InvalidRequestError, LLMError, LLMNotConfiguredError, TokenCountWarning
from opto.llm.http_observer import Exchange
from opto.llm.litellm_backend import import_litellm, uses_openai_sdk
from opto.llm.openai_clients import OpenAIClients
from opto.llm.pricing import estimate_text_tokens
from opto.llm.provider_errors import translate_exception
from opto.llm.response import EmbeddingResponse, Usage
from opto.llm.retry import RetryPolicy
from opto.llm.token_counts import prompt_token_bound
from opto.utils.user_warnings import warn_user


class Embedder(ModelClient):
    """``embedder(text)`` returns the `EmbeddingResponse` of `text` (``.vector``, ``.usage``);
    ``await embedder.acall(text)`` is the same call awaited.

    Args:
        model: the embedding model, as litellm names it ("text-embedding-3-small",
            "openai/<name>" for an OpenAI-compatible server, "gemini/gemini-embedding-001" ...).
        base_url: the server (litellm's ``api_base``; OPENAI_API_BASE for "openai/" models).
        api_key: the key (else the provider's variable, e.g. OPENAI_API_KEY).
        options: the `ModelClient` options (`timeout`, `retry`, `max_concurrency`, `cache`,
            `max_cost`, `max_calls`, `prices`, `reset_freq`) and default request parameters
            (e.g. ``dimensions``).
    """

    backend_name = "litellm"
    enforces_timeout = True  # litellm's timeout and opto's observing transport

    def __init__(
        self,
        model: str,
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

    def _reset_client(self) -> None:
        self._clients.reset()

    @property
    def endpoint(self) -> str | None:
        if self.model and uses_openai_sdk(self.model):
            return self._clients.endpoint
        return self.base_url

    def __call__(self, text: str, **params: Any) -> EmbeddingResponse:
        return self._call((text,), params)

    async def acall(self, text: str, **params: Any) -> EmbeddingResponse:
        """The async form of `__call__`, with the same steps and rules."""
        return await self._acall((text,), params)

    # ----- what an embedding request and reply are

    def _new_call(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float | None
    ) -> Call:
        (text,) = args
        if not isinstance(text, str):
            raise InvalidRequestError(f"an embedding is made of text, got {type(text).__name__}")
        model = kwargs.pop("model", None) or self.model
        if not model:
            raise LLMNotConfiguredError("Embedder needs a model name")
        request = {"model": model, **self.default_params, **kwargs, "input": [text]}
        return Call(args, kwargs, request, timeout)

    def _estimated_prompt_tokens(self, request: dict[str, Any]) -> int:
        return sum(estimate_text_tokens(text) for text in request["input"])

    def _always_same_reply(self, request: dict[str, Any]) -> bool:
        return True

    def _params(self, call: Call, client: Any) -> dict[str, Any]:
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

    def _complete(self, call: Call) -> Any:
        litellm = import_litellm()
        client = self._clients.sync() if uses_openai_sdk(call.model) else None
        return litellm.embedding(**self._params(call, client))

    async def _acomplete(self, call: Call) -> Any:
        litellm = import_litellm()
        client = None
        if uses_openai_sdk(call.model):
            client = await self._clients.for_running_loop()
        return await litellm.aembedding(**self._params(call, client))

    def _translate_error(
        self, exc: BaseException, call: Call, exchange: Exchange | None = None
    ) -> BaseException:
        """As for chat calls, except that a 2xx body is not judged as a chat completion."""
        seen = exchange if exchange is not None and not _succeeded(exchange) else None
        return translate_exception(exc, call.model, base_url=self.endpoint, exchange=seen)

    def _to_result(self, raw: Any, call: Call, exchange: Exchange) -> EmbeddingResponse:
        body = raw.model_dump() if hasattr(raw, "model_dump") else raw
        items = body.get("data") if isinstance(body, dict) else None
        first = items[0] if isinstance(items, list) and items else None
        return EmbeddingResponse.from_dict(
            {
                "embedding": first.get("embedding") if isinstance(first, dict) else None,
                "model": body.get("model") if isinstance(body, dict) else None,
                "usage": body.get("usage") if isinstance(body, dict) else None,
            },
            model=call.model,
        )

    def _from_stored(self, stored: dict[str, Any], call: Call) -> EmbeddingResponse:
        return EmbeddingResponse.from_dict(stored, model=call.model)

    def _dry_answer(self, recorder: DryRunRecorder, call: Call) -> EmbeddingResponse:
        recorder.record(call.model, call.prompt_tokens, call.request, self._price(call.model))
        return EmbeddingResponse(vector=[], model=call.model, usage=Usage(cost=0.0, attempts=0))

    def _finish(self, call: Call, result: EmbeddingResponse) -> EmbeddingResponse:
        """Charge the prompt tokens the server reported, unless they cannot be right (negative,
        or more than the text's bytes): then opto's estimate, with a `TokenCountWarning`."""
        usage = result.usage
        reported = usage.prompt_tokens
        if reported <= 0 or reported > prompt_token_bound(call.request):
            usage.prompt_tokens = call.prompt_tokens
            usage.estimated = True
            if reported != 0:
                warn_user(
                    f"{call.model}: the server reported {reported} prompt tokens for an "
                    f"embedding; it is charged opto's estimate of {call.prompt_tokens}",
                    TokenCountWarning,
                )
        usage.completion_tokens = 0
        usage.total_tokens = usage.prompt_tokens
        self._account(call, result)
        return result

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, backend={self.backend_name!r})"


def _succeeded(exchange: Exchange) -> bool:
    return exchange.status is not None and 200 <= exchange.status < 300


def embed_text(
    model: str,
    text: str,
    *,
    retry: RetryPolicy | None = None,
    timeout: float | None = 60.0,
    base_url: str | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    **params: Any,
) -> list[float]:
    """The embedding vector of `text`; raises a typed `LLMError` when it cannot be had.

    A client is built for this one call (`api_base` is litellm's name for `base_url`); build
    one `Embedder` and call it for many texts to share its connections and concurrency limit.
    """
    embedder = Embedder(
        model, base_url=base_url or api_base, api_key=api_key, retry=retry, timeout=timeout
    )
    return embedder(text, **params).vector


def embed(
    model: str, text: str, max_retries: int = 10, base_delay: float = 1.0
) -> list[float] | None:
    """Trace's helper: the vector, or None when every attempt failed."""
    policy = RetryPolicy(max_attempts=max_retries + 1, base_delay=base_delay)
    try:
        return embed_text(model, text, retry=policy)
    except LLMError:
        return None
