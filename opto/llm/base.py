"""The chat client every chat model call goes through.

`BaseLLM` is the chat side of the choke point: it checks the messages, turns what a backend
returned into a `ChatResponse`, checks the body seen on the wire, settles token counts, and
reports replies cut at the token limit. Everything else a call needs (cache, budgets, the
concurrency limit, timeouts, retries with backoff, the deadline, error translation, usage
accounting and history) it inherits from `opto.llm.client.ModelClient`, which runs a sync
call and an async call through the same plan. A backend only turns a request into a provider
call (`_complete` / `_acomplete`) and may refine how the provider's exceptions are read
(`_translate_error`).
"""

from __future__ import annotations

from typing import Any

from opto.llm.client import Call, ModelClient
from opto.llm.config import NOT_CONFIGURED_HELP
from opto.llm.dry_run import DryRunRecorder
from opto.llm.errors import (
    InvalidRequestError,
    LLMNotConfiguredError,
    MalformedResponseError,
    TokenCountWarning,
    TruncatedResponseError,
    TruncationWarning,
)
from opto.llm.http_observer import Exchange
from opto.llm.messages import validate_messages
from opto.llm.pricing import estimate_prompt_tokens
from opto.llm.provider_errors import body_problem
from opto.llm.response import ChatResponse
from opto.llm.token_counts import settle_token_counts
from opto.utils.user_warnings import warn_user


class BaseLLM(ModelClient):
    """A chat model client: `llm(messages=[...], **params)` returns a `ChatResponse`.

    `model` is the model's name as the backend knows it (sent with every request unless a
    call names another).
    Options: `timeout` (seconds per attempt, None for none), `retry` (a `RetryPolicy`, which
    may also set a deadline for the whole call), `max_concurrency` (calls in flight at once,
    None for no limit), `cache` (True/False, or None to follow the global rule), `max_cost` /
    `max_calls` (a budget for this client), `prices` ((input, output) dollars per token,
    overriding litellm's map), `on_truncation` ("warn", "raise" or "ignore"), `reset_freq`
    (seconds before the provider client is rebuilt). Other keyword arguments are default
    request parameters (temperature, max_tokens, ...).
    """

    def __init__(
        self, model: str | None = None, *, on_truncation: str = "warn", **options: Any
    ) -> None:
        if on_truncation not in ("warn", "raise", "ignore"):
            raise ValueError(
                f"on_truncation must be 'warn', 'raise' or 'ignore', got {on_truncation!r}"
            )
        self.on_truncation = on_truncation
        super().__init__(model, **options)

    # ----- public API

    @property
    def model_name(self) -> str | None:
        """The model name (Trace's attribute; the same as `model`)."""
        return self.model

    def __call__(self, *args: Any, **kwargs: Any) -> ChatResponse:
        return self._call(args, kwargs)

    def create(self, *args: Any, **kwargs: Any) -> ChatResponse:
        """Trace's optimizers call `llm.create(...)`; same as calling the client."""
        return self(*args, **kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> ChatResponse:
        """The async form of `__call__`: the same steps and rules (retries, timeouts, cache,
        budgets, limit, ledger, history), awaited instead of blocking."""
        return await self._acall(args, kwargs)

    # ----- what a chat request and a chat reply are

    def _new_call(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float | None
    ) -> Call:
        on_delta = kwargs.pop("on_delta", None)
        request = self._build_request(args, kwargs)
        stream = bool(request.pop("stream", False))
        return Call(args, kwargs, request, timeout, stream=stream, on_delta=on_delta)

    def _build_request(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(kwargs)
        if args:
            if len(args) > 1 or "messages" in kwargs:
                raise InvalidRequestError(
                    "pass the messages once: as the only positional argument or as messages=[...]"
                )
            kwargs["messages"] = args[0]
        if "messages" not in kwargs:
            raise InvalidRequestError("messages=[{'role': 'user', 'content': ...}] is required")
        kwargs["messages"] = validate_messages(kwargs["messages"])
        model = kwargs.pop("model", None) or self.model
        if not model:
            raise LLMNotConfiguredError(NOT_CONFIGURED_HELP)
        return {"model": model, **self.default_params, **kwargs}

    def _estimated_prompt_tokens(self, request: dict[str, Any]) -> int:
        return estimate_prompt_tokens(request.get("messages"))

    def _reply_token_limit(self, request: dict[str, Any]) -> int:
        limit = request.get("max_tokens") or request.get("max_completion_tokens") or 0
        return limit * (request.get("n") or 1)

    def _to_response(self, raw: Any, call: Call) -> ChatResponse:
        if isinstance(raw, ChatResponse):
            return raw
        if hasattr(raw, "model_dump"):
            raw = raw.model_dump()
        if isinstance(raw, dict):
            return ChatResponse.from_dict(raw, model=call.model)
        raise MalformedResponseError(
            f"server reply is not a chat completion: {type(raw).__name__} {str(raw)[:200]!r}",
            model=call.model,
        )

    def _to_result(self, raw: Any, call: Call, exchange: Exchange) -> ChatResponse:
        """The reply as a `ChatResponse`, once the body seen on the wire (when opto saw it) is
        a chat completion: an SDK may accept a body that is not one."""
        problem = None if call.stream else body_problem(exchange)
        if problem is not None:
            raise MalformedResponseError(
                f"the server answered {exchange.status} with a body that is not a chat "
                f"completion: {problem}",
                model=call.model,
                base_url=exchange.url or self.endpoint,
                status_code=exchange.status,
            )
        return self._to_response(raw, call)

    def _from_stored(self, stored: dict[str, Any], call: Call) -> ChatResponse:
        return ChatResponse.from_dict(stored, model=call.model)

    def _dry_answer(self, recorder: DryRunRecorder, call: Call) -> ChatResponse:
        return recorder.answer(
            call.model, call.prompt_tokens, call.request, self._price(call.model)
        )

    def _finish(self, call: Call, response: ChatResponse) -> ChatResponse:
        correction = settle_token_counts(response, call.request, call.prompt_tokens)
        if correction is not None:
            warn_user(f"{call.model}: {correction}", TokenCountWarning)
        self._account(call, response, truncated=int(response.truncated))
        if response.truncated:
            self._report_truncation(call, response)
        return response

    def _report_truncation(self, call: Call, response: ChatResponse) -> None:
        message = (
            f"the reply of {call.model} was cut at the token limit (finish_reason 'length', "
            f"max_tokens={call.request.get('max_tokens')}); raise max_tokens or shorten the prompt"
        )
        if self.on_truncation == "raise":
            raise TruncatedResponseError(message, response=response, model=call.model)
        if self.on_truncation == "warn":
            warn_user(message, TruncationWarning)
