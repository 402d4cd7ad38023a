"""The one choke point every model call goes through.

`BaseLLM` owns what all backends share: request checks, the cache, budgets, the concurrency
limit, timeouts, retries with backoff, error translation, truncation reports and usage
accounting. A backend only turns a request into a provider call (`_complete` / `_acomplete`)
and may refine how the provider's exceptions are read (`_translate_error`).
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

from opto.llm.budget import Budget, active_budgets, reserve_all
from opto.llm.cache import LLMCache, get_cache, request_key, should_cache
from opto.llm.call_log import log_cache_hit, log_failure, log_flight_wait, log_retry, remember
from opto.llm.config import NOT_CONFIGURED_HELP
from opto.llm.dry_run import active_dry_run
from opto.llm.errors import (
    InvalidRequestError,
    LLMError,
    LLMNotConfiguredError,
    LLMTimeoutError,
    MalformedResponseError,
    TokenCountWarning,
    TruncatedResponseError,
    TruncationWarning,
)
from opto.llm.history import CallHistory
from opto.llm.http_observer import Exchange, observing
from opto.llm.limiter import ConcurrencyLimiter
from opto.llm.messages import validate_messages
from opto.llm.pricing import Price, as_price, estimate_prompt_tokens, price_for
from opto.llm.provider_errors import body_problem, translate_exception
from opto.llm.response import ChatResponse, Usage
from opto.llm.retry import RetryPolicy
from opto.llm.single_flight import Flight
from opto.llm.token_counts import settle_token_counts
from opto.llm.usage import UsageLedger, record_usage
from opto.utils.user_warnings import warn_user


@dataclass
class Call:
    """One logical call as it moves through the pipeline."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]  # the caller's keyword arguments, without opto's control keys
    request: dict[str, Any]  # what the provider receives: model, client defaults, kwargs
    timeout: float | None
    stream: bool = False
    on_delta: Callable[[str], None] | None = None
    use_cache: bool = False
    key: str | None = None
    cache: LLMCache | None = None  # the cache of the caller's scope, when `use_cache`
    flight: Flight | None = None  # the flight this call leads, when it leads one
    prompt_tokens: int = 0
    estimate: float | None = None
    budgets: list[Budget] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def model(self) -> str:
        return str(self.request.get("model") or "unknown")


class BaseLLM(abc.ABC):
    """A chat model client: `llm(messages=[...], **params)` returns a `ChatResponse`.

    Options: `timeout` (seconds per attempt, None for none), `retry` (a `RetryPolicy`),
    `max_concurrency` (calls in flight at once, None for no limit), `cache` (True/False, or
    None to follow the global rule), `max_cost` / `max_calls` (a budget for this client),
    `prices` ((input, output) dollars per token, overriding litellm's map), `on_truncation`
    ("warn", "raise" or "ignore"), `reset_freq` (seconds before the provider client is rebuilt).
    Other keyword arguments are default request parameters (temperature, max_tokens, ...).
    """

    backend_name: ClassVar[str] = "base"
    _sleep: ClassVar[Callable[[float], Any]] = staticmethod(time.sleep)
    _asleep: ClassVar[Callable[[float], Any]] = staticmethod(asyncio.sleep)

    def __init__(
        self,
        model: str | None = None,
        *,
        timeout: float | None = 120.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int | None = 8,
        cache: bool | None = None,
        max_cost: float | None = None,
        max_calls: int | None = None,
        prices: Price | tuple[float, float] | None = None,
        on_truncation: str = "warn",
        reset_freq: float | None = None,
        **default_params: Any,
    ) -> None:
        if on_truncation not in ("warn", "raise", "ignore"):
            raise ValueError(
                f"on_truncation must be 'warn', 'raise' or 'ignore', got {on_truncation!r}"
            )
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive or None, got {timeout}")
        self.model = model
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.max_concurrency = max_concurrency
        self.cache = cache
        self.prices = as_price(prices)
        self.on_truncation = on_truncation
        self.reset_freq = reset_freq
        self.default_params = default_params
        self.usage = UsageLedger()
        self.budget = (
            Budget(max_cost, max_calls, name=f"{type(self).__name__}({model}) budget")
            if max_cost is not None or max_calls is not None
            else None
        )
        self._init_runtime()

    # ----- state that is rebuilt, not pickled

    def _init_runtime(self) -> None:
        self._limiter = ConcurrencyLimiter(self.max_concurrency)
        self._client_born = time.monotonic()
        self.history = CallHistory()  # this client's last calls (see `inspect_history`)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in self._runtime_fields():
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def _runtime_fields(self) -> tuple[str, ...]:
        return ("_limiter", "_client_born", "history")

    def _reset_client(self) -> None:
        """Drop the provider client so the next call builds a fresh one (see `reset_freq`)."""
        return None

    def _maybe_reset(self) -> None:
        if self.reset_freq is not None and time.monotonic() - self._client_born > self.reset_freq:
            self._reset_client()
            self._client_born = time.monotonic()

    # ----- what backends implement

    @abc.abstractmethod
    def _complete(self, call: Call) -> Any:
        """Make one provider call; return a `ChatResponse`, a chat-completion dict or SDK object."""

    async def _acomplete(self, call: Call) -> Any:
        return await asyncio.to_thread(self._complete, call)

    @property
    def endpoint(self) -> str | None:
        """The URL calls go to, named in connection and HTTP errors (None when not known)."""
        return None

    def _translate_error(
        self, exc: BaseException, call: Call, exchange: Exchange | None = None
    ) -> BaseException:
        """The typed error for what the provider call raised (`exchange`: what opto saw on
        the wire during the attempt)."""
        return translate_exception(exc, call.model, base_url=self.endpoint, exchange=exchange)

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

    # ----- public API

    @property
    def model_name(self) -> str | None:
        return self.model

    def __call__(self, *args: Any, **kwargs: Any) -> ChatResponse:
        call = self._prepare(args, kwargs)
        stand_in = active_dry_run()
        if stand_in is not None:  # a dry run: record the request, send nothing
            price = self._price(call.model)
            return stand_in.answer(call.model, call.prompt_tokens, call.request, price)
        while True:
            cached = self._from_cache(call)
            if cached is not None:
                return cached
            flight = self._flight_to_wait_for(call, None)
            if flight is None:
                break
            flight.wait()
        try:
            self._reserve(call)
            try:
                response = self._run(call)
            except BaseException as exc:
                self._failed(call, exc)
                raise
            return self._finish(call, response)
        finally:
            self._land(call)

    def create(self, *args: Any, **kwargs: Any) -> ChatResponse:
        """Trace's optimizers call `llm.create(...)`; same as calling the client."""
        return self(*args, **kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> ChatResponse:
        """The async form of `__call__`, sharing the same limit, cache, budgets and ledger."""
        call = self._prepare(args, kwargs)
        stand_in = active_dry_run()
        if stand_in is not None:
            price = self._price(call.model)
            return stand_in.answer(call.model, call.prompt_tokens, call.request, price)
        while True:
            cached = self._from_cache(call)
            if cached is not None:
                return cached
            flight = self._flight_to_wait_for(call, asyncio.get_running_loop())
            if flight is None:
                break
            await flight.wait_async()
        try:
            self._reserve(call)
            try:
                response = await self._arun(call)
            except BaseException as exc:
                self._failed(call, exc)
                raise
            return self._finish(call, response)
        finally:
            self._land(call)

    # ----- pipeline steps

    def _prepare(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        kwargs = dict(kwargs)
        per_call_cache = kwargs.pop("cache", None)
        timeout = kwargs.pop("timeout", self.timeout)
        on_delta = kwargs.pop("on_delta", None)
        request = self._build_request(args, kwargs)
        stream = bool(request.pop("stream", False))
        call = Call(args, kwargs, request, timeout, stream=stream, on_delta=on_delta)
        if should_cache(per_call_cache, self.cache, request):
            call.key = request_key(request)
            call.use_cache = call.key is not None
            call.cache = get_cache() if call.use_cache else None
        call.prompt_tokens = estimate_prompt_tokens(request.get("messages"))
        price = self._price(call.model)
        if price is not None:
            limit = request.get("max_tokens") or request.get("max_completion_tokens") or 0
            output_tokens = limit * (request.get("n") or 1)
            call.estimate = call.prompt_tokens * price.input + output_tokens * price.output
        return call

    def _price(self, model: str) -> Price | None:
        return self.prices if self.prices is not None else price_for(model)

    def _from_cache(self, call: Call) -> ChatResponse | None:
        """The cached reply, or None; an entry that is not a reply is dropped (with a warning)."""
        if not call.use_cache:
            return None
        stored = call.cache.get(call.key)
        if stored is None:
            return None
        try:
            response = ChatResponse.from_dict(stored, model=call.model)
        except MalformedResponseError as error:
            call.cache.discard(call.key, error.message)
            return None
        response.usage = Usage(cache_hit=True, attempts=0)
        self._record(call.model, cache_hits=1)
        log_cache_hit(call.model, call.key)
        remember(self.history, self, call.request, response=response)
        return response

    def _flight_to_wait_for(
        self, call: Call, loop: asyncio.AbstractEventLoop | None
    ) -> Flight | None:
        """A flight of the same request to wait for, or None: this call goes to the model
        (leading its key's flight when it is cacheable)."""
        if not call.use_cache:
            return None
        flight, leads = call.cache.flights.claim(call.key, loop)
        if leads:
            call.flight = flight
            return None
        if not flight.can_wait(loop):
            return None
        log_flight_wait(call.model, call.key)
        return flight

    def _land(self, call: Call) -> None:
        if call.flight is not None:
            call.cache.flights.release(call.key, call.flight)
            call.flight = None

    def _reserve(self, call: Call) -> None:
        budgets = [self.budget] if self.budget is not None else []
        budgets.extend(active_budgets())
        reserve_all(budgets, call.estimate, call.model)
        call.budgets = budgets

    def _run(self, call: Call) -> ChatResponse:
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            try:
                with self._limiter:
                    response = self._attempt(call)
            except LLMError as error:
                delay = self._next_delay(call, error, attempt, waited)
                if delay is None:
                    raise
                self._sleep(delay)
                waited += delay
                continue
            response.usage.attempts = attempt
            return response

    async def _arun(self, call: Call) -> ChatResponse:
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            try:
                async with self._limiter:
                    response = await self._aattempt(call)
            except LLMError as error:
                delay = self._next_delay(call, error, attempt, waited)
                if delay is None:
                    raise
                await self._asleep(delay)
                waited += delay
                continue
            response.usage.attempts = attempt
            return response

    def _next_delay(self, call: Call, error: LLMError, attempt: int, waited: float) -> float | None:
        error.attempts = attempt
        if error.model is None:
            error.model = call.model
        delay = self.retry.next_delay(attempt, error, waited)
        if delay is not None:
            self._record(call.model, retries=1)
            log_retry(call.model, error, attempt, delay)
        return delay

    def _attempt(self, call: Call) -> ChatResponse:
        self._maybe_reset()
        with observing(call.timeout) as exchange:
            try:
                raw = self._complete(call)
            except LLMError:
                raise
            except Exception as exc:
                self._raise_typed(exc, call, exchange)
        return self._checked_response(raw, call, exchange)

    async def _aattempt(self, call: Call) -> ChatResponse:
        self._maybe_reset()
        with observing(call.timeout) as exchange:
            try:
                if call.timeout is None:
                    raw = await self._acomplete(call)
                else:
                    raw = await asyncio.wait_for(self._acomplete(call), call.timeout)
            except LLMError:
                raise
            except asyncio.TimeoutError as exc:
                raise LLMTimeoutError(
                    f"no reply within {call.timeout} s", model=call.model, base_url=self.endpoint
                ) from exc
            except Exception as exc:
                self._raise_typed(exc, call, exchange)
        return self._checked_response(raw, call, exchange)

    def _raise_typed(self, exc: Exception, call: Call, exchange: Exchange) -> NoReturn:
        """Raise the typed error for `exc`. A classified error (connection, timeout, HTTP
        status, malformed body) says what happened and what to check, so the SDK's traceback
        (often over 100 lines) is left out of its report; it stays reachable as
        `error.original`. An unclassified `LLMError` keeps the whole chain."""
        error = self._translate_error(exc, call, exchange)
        if error is exc:
            raise exc
        if isinstance(error, LLMError):
            error.original = exc
        if type(error) is LLMError:
            raise error from exc
        raise error from None

    def _checked_response(self, raw: Any, call: Call, exchange: Exchange) -> ChatResponse:
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

    def _finish(self, call: Call, response: ChatResponse) -> ChatResponse:
        usage = response.usage
        correction = settle_token_counts(response, call.request, call.prompt_tokens)
        if correction is not None:
            warn_user(f"{call.model}: {correction}", TokenCountWarning)
        price = self._price(call.model)
        usage.cost = (
            None
            if price is None
            else usage.prompt_tokens * price.input + usage.completion_tokens * price.output
        )
        usage.cache_hit = False
        usage.latency_s = time.monotonic() - call.started
        for item in call.budgets:
            item.settle(call.estimate, usage.cost)
        self._record(
            call.model,
            calls=1,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=usage.cost or 0.0,
            unpriced_calls=int(usage.cost is None),
            latency_s=usage.latency_s,
            truncated=int(response.truncated),
        )
        if call.use_cache:
            call.cache.set(call.key, response.to_dict())
        remember(self.history, self, call.request, response=response)
        if response.truncated:
            self._report_truncation(call, response)
        return response

    def _failed(self, call: Call, exc: BaseException) -> None:
        for item in call.budgets:
            item.cancel(call.estimate)
        if isinstance(exc, Exception):
            self._record(call.model, errors=1)
            log_failure(call.model, exc)
            remember(self.history, self, call.request, error=exc)

    def _report_truncation(self, call: Call, response: ChatResponse) -> None:
        message = (
            f"the reply of {call.model} was cut at the token limit (finish_reason 'length', "
            f"max_tokens={call.request.get('max_tokens')}); raise max_tokens or shorten the prompt"
        )
        if self.on_truncation == "raise":
            raise TruncatedResponseError(message, response=response, model=call.model)
        if self.on_truncation == "warn":
            warn_user(message, TruncationWarning)

    def inspect_history(self, n: int = 1) -> None:
        """Print this client's last ``n`` calls (see `opto.llm.inspect_history`)."""
        print(self.history.render(n))

    def _record(self, model: str, **deltas: Any) -> None:
        self.usage.record(model, **deltas)
        record_usage(model, **deltas)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, backend={self.backend_name!r})"
