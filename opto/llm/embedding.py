"""Text embeddings through litellm, behind the same engine as chat calls.

An `Embedder` is a `ModelClient`: an embedding call goes through the same plan as a chat call,
sync or async (retries with backoff, timeouts, the deadline, the concurrency limit, typed
errors) and is booked the same way (cache, budgets, usage ledger, history). Embeddings never
vary for a given text, so the cache rule keeps them unless the cache is switched off.

Models litellm would send through the openai SDK ("openai/<name>", any OpenAI-compatible
server, OpenAI's own models) are asked through opto's own SDK client, whose HTTP passes
through opto's observing transport and which makes no retries of its own (litellm's embedding
path would turn the client's ``max_retries=0`` into its default of 2). Other providers go
through ``litellm.embedding``.
"""

from __future__ import annotations

from typing import Any

from opto.llm.client import Call, ModelClient
from opto.llm.dry_run import DryRunRecorder
from opto.llm.errors import (
    InvalidRequestError,
    LLMError,
    LLMNotConfiguredError,
    MalformedResponseError,
    TokenCountWarning,
)
from opto.llm.http_observer import Exchange
from opto.llm.litellm_backend import LiteLLMConnection, import_litellm, uses_openai_sdk
from opto.llm.pricing import estimate_text_tokens
from opto.llm.provider_errors import translate_exception
from opto.llm.response import EmbeddingResponse, Usage
from opto.llm.retry import RetryPolicy
from opto.llm.token_counts import prompt_token_bound
from opto.utils.user_warnings import warn_user


class Embedder(LiteLLMConnection, ModelClient):
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
    enforces_timeout = True  # the SDK's timeout and opto's observing transport

    def __call__(self, text: str, **params: Any) -> EmbeddingResponse:
        return self._call((text,), params)

    async def acall(self, text: str, **params: Any) -> EmbeddingResponse:
        """The async form of `__call__`: embed `text` with the same steps and rules (retries,
        timeouts, cache, budgets); `params` are extra request parameters."""
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

    def _sdk_params(self, call: Call) -> dict[str, Any]:
        """The request for the openai SDK: the model's name without litellm's provider prefix,
        and plain numbers asked for (else the SDK asks for base64 and decodes it itself)."""
        name = import_litellm().get_llm_provider(call.model)[0]
        params = {"encoding_format": "float", **call.request, "model": name}
        if call.timeout is not None:
            params["timeout"] = call.timeout
        return params

    def _complete(self, call: Call) -> Any:
        if uses_openai_sdk(call.model):
            return self._clients.sync().embeddings.create(**self._sdk_params(call))
        return import_litellm().embedding(**self._litellm_params(call))

    async def _acomplete(self, call: Call) -> Any:
        if uses_openai_sdk(call.model):
            client = await self._clients.for_running_loop()
            return await client.embeddings.create(**self._sdk_params(call))
        return await import_litellm().aembedding(**self._litellm_params(call))

    def _translate_error(
        self, exc: BaseException, call: Call, exchange: Exchange | None = None
    ) -> BaseException:
        """As for chat calls, except for a whole 2xx body the SDK could not read: that is a
        malformed reply, said in terms of embeddings (not of chat completions)."""
        if exchange is None or not _succeeded(exchange):
            return translate_exception(exc, call.model, base_url=self.endpoint, exchange=exchange)
        if exchange.full_body() is None:  # cut short (a timeout, a dropped connection)
            return translate_exception(exc, call.model, base_url=self.endpoint)
        return MalformedResponseError(
            f"the server answered {exchange.status} with a body that is not an embedding "
            f"({type(exc).__name__}: {exc}): {exchange.body_excerpt()!r}",
            model=call.model,
            base_url=exchange.url or self.endpoint,
            status_code=exchange.status,
        )

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
    `model` is the embedding model; `retry` the `RetryPolicy` (None: the default one);
    `timeout` the seconds one attempt may take; `api_key` the provider key (None: the SDK's
    environment variable). Other keyword arguments are sent with the request.
    """
    embedder = Embedder(
        model, base_url=base_url or api_base, api_key=api_key, retry=retry, timeout=timeout
    )
    return embedder(text, **params).vector


def embed(
    model: str, text: str, max_retries: int = 10, base_delay: float = 1.0
) -> list[float] | None:
    """Trace's helper: the embedding of `text` by `model`, or None when every attempt failed.

    `max_retries` failed attempts are retried (so `max_retries + 1` in all), waiting
    `base_delay` seconds first and doubling; use `embed_text` to get the error instead.
    """
    policy = RetryPolicy(max_attempts=max_retries + 1, base_delay=base_delay)
    try:
        return embed_text(model, text, retry=policy)
    except LLMError:
        return None
