"""What every model client shares: the pipeline one call goes through, sync or async.

`ModelClient` is the common base of chat clients (`opto.llm.base.BaseLLM`) and embedding
clients (`opto.llm.embedding.Embedder`). It owns the steps of a call that do not depend on
what is asked: the dry-run stand-in, the cache and its single flight, budgets, the retry loop
with its timeouts and deadline (`opto.llm.engine`), the concurrency limit, error translation,
and the accounting of a finished call (usage ledger, budgets, cache, history). A subclass says
what a request and a reply are (`_new_call`, `_to_result`, `_from_stored`, `_finish`) and how
one provider call is made (`_complete`, `_acomplete`).

The whole call is one plan (`_plan`); `_call` runs it with blocking calls and `_acall` with
awaits, so the two ways share every rule.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

from opto.llm.budget import Budget, active_budgets, reserve_all
from opto.llm.cache import LLMCache, get_cache, request_key, should_cache
from opto.llm.call_log import log_cache_hit, log_failure, log_flight_wait, log_retry, remember
from opto.llm.dry_run import DryRunRecorder, active_dry_run
from opto.llm.engine import (
    Attempt,
    AwaitFlight,
    Effect,
    Pause,
    Plan,
    arun_plan,
    await_within,
    call_within,
    in_worker_thread,
    retrying,
    run_plan,
)
from opto.llm.errors import LLMError, LLMTimeoutError, MalformedResponseError
from opto.llm.history import CallHistory
from opto.llm.http_observer import Exchange, observing
from opto.llm.limiter import ConcurrencyLimiter
from opto.llm.pricing import Price, as_price, price_for
from opto.llm.provider_errors import translate_exception
from opto.llm.response import Usage
from opto.llm.retry import RetryPolicy
from opto.llm.single_flight import Flight, leading
from opto.llm.usage import UsageLedger, record_usage


@dataclass
class Call:
    """One logical call as it moves through the pipeline.

    `timeout` is the time the current attempt may take: the client's or the caller's
    `timeout` when the call starts, cut before each attempt to what is left of the call's
    deadline (`RetryPolicy.total_timeout`). Backends pass it on to the provider.

    The other fields: `args` and `kwargs` are what the caller passed (without opto's control
    keywords); `request` is what the provider receives (model, client defaults, kwargs);
    `stream` and `on_delta` ask for a streamed reply and the function each text piece is
    given to. `use_cache`, `key` and `cache` say whether, under which key and in which cache
    the reply is looked up and stored; `flight` is the single-flight this call leads (others
    with the same key wait for it). `prompt_tokens` and `estimate` are the measured prompt
    size and the dollars reserved in `budgets`; `started` is the monotonic clock at the start,
    for latency and the deadline.
    """

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
        """The model named in the request (``unknown`` if none), for logs and errors."""
        return str(self.request.get("model") or "unknown")


class ModelClient(abc.ABC):
    """A client of a model behind opto's choke point (see the module docstring).

    Args:
        model: the model's name as the backend knows it.
        timeout: seconds one attempt may take (None for no limit); per call ``timeout=``.
        retry: the `RetryPolicy` (attempts, backoff, bound on waits, deadline of a call).
        max_concurrency: calls of this client in flight at once (None: no limit).
        cache: True/False, or None to follow the scope's and the process-wide rule.
        max_cost, max_calls: a budget for this client (None: no limit).
        prices: (input, output) dollars per token, overriding litellm's price map.
        reset_freq: seconds after which the provider client is rebuilt (None: never).
        default_params: request parameters sent with every call (temperature, ...).
    """

    backend_name: ClassVar[str] = "base"
    enforces_timeout: ClassVar[bool] = False
    """True when the backend's own HTTP stack stops an attempt at `Call.timeout` (the observing
    transport does); otherwise a sync attempt runs in a worker thread that is waited for no
    longer than the timeout (`engine.call_within`). Async attempts are always bounded by
    `engine.await_within`."""
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
        reset_freq: float | None = None,
        **default_params: Any,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive or None, got {timeout}")
        self.model = model
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.max_concurrency = max_concurrency
        self.cache = cache
        self.prices = as_price(prices)
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

    # ----- what subclasses implement

    @abc.abstractmethod
    def _new_call(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float | None
    ) -> Call:
        """The `Call` for what the caller passed (opto's `cache`/`timeout` keys removed)."""

    @abc.abstractmethod
    def _complete(self, call: Call) -> Any:
        """Make one provider call; return what `_to_result` reads."""

    async def _acomplete(self, call: Call) -> Any:
        return await in_worker_thread(lambda: self._complete(call))

    @abc.abstractmethod
    def _to_result(self, raw: Any, call: Call, exchange: Exchange) -> Any:
        """The reply object for what `_complete` returned (with a `usage` and `to_dict()`);
        raises `MalformedResponseError` when it is not a reply."""

    @abc.abstractmethod
    def _from_stored(self, stored: dict[str, Any], call: Call) -> Any:
        """The reply object for a cache entry; raises `MalformedResponseError` if it is not one."""

    @abc.abstractmethod
    def _finish(self, call: Call, result: Any) -> Any:
        """Settle a reply from the model (usually through `_account`) and return it."""

    @abc.abstractmethod
    def _dry_answer(self, recorder: DryRunRecorder, call: Call) -> Any:
        """Record the call in a dry run and return its stand-in reply."""

    def _estimated_prompt_tokens(self, request: dict[str, Any]) -> int:
        """opto's estimate of the request's prompt tokens (for budgets)."""
        return 0

    def _reply_token_limit(self, request: dict[str, Any]) -> int:
        """The most reply tokens the request may cost (for budgets)."""
        return 0

    def _always_same_reply(self, request: dict[str, Any]) -> bool:
        """Whether the request always gets the same reply, so the cache rule takes it."""
        return False

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

    # ----- the two ways to make a call

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = self._prepare(args, kwargs)
        return run_plan(self._plan(call, None), lambda effect: self._perform(call, effect))

    async def _acall(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = self._prepare(args, kwargs)
        plan = self._plan(call, asyncio.get_running_loop())
        return await arun_plan(plan, lambda effect: self._aperform(call, effect))

    # ----- the plan of a call

    def _plan(self, call: Call, loop: asyncio.AbstractEventLoop | None) -> Plan[Any]:
        """Every step of a call, sync or async: `loop` is the caller's event loop (None for a
        blocking call), which decides whether it may wait for an identical call in flight."""
        stand_in = active_dry_run()
        if stand_in is not None:  # a dry run: record the request, send nothing
            return self._dry_answer(stand_in, call)
        while True:
            cached = self._from_cache(call)
            if cached is not None:
                return cached
            flight = self._flight_to_wait_for(call, loop)
            if flight is None:
                break
            yield AwaitFlight(flight)
        try:
            self._reserve(call)
            try:
                on_retry = functools.partial(self._retrying, call)
                result, attempts = yield from retrying(self.retry, call.timeout, on_retry)
            except BaseException as exc:
                self._failed(call, exc)
                raise
            result.usage.attempts = attempts
            return self._finish(call, result)
        finally:
            self._land(call)

    def _perform(self, call: Call, effect: Effect) -> Any:
        """Do one effect of the plan, blocking."""
        if isinstance(effect, Pause):
            self._sleep(effect.seconds)
        elif isinstance(effect, AwaitFlight):
            effect.flight.wait()
        else:
            with self._limiter:
                return self._attempt(call, effect)
        return None

    async def _aperform(self, call: Call, effect: Effect) -> Any:
        """Do one effect of the plan, awaiting."""
        if isinstance(effect, Pause):
            await self._asleep(effect.seconds)
        elif isinstance(effect, AwaitFlight):
            await effect.flight.wait_async()
        else:
            async with self._limiter:
                return await self._aattempt(call, effect)
        return None

    def _attempt(self, call: Call, attempt: Attempt) -> Any:
        call.timeout = attempt.time_allowed(time.monotonic())
        with self._attempt_scope(call) as exchange:
            if self.enforces_timeout:
                raw = self._complete(call)
            else:
                raw = call_within(
                    lambda: self._complete(call), call.timeout, lambda: self._timed_out(call)
                )
        return self._to_result(raw, call, exchange)

    async def _aattempt(self, call: Call, attempt: Attempt) -> Any:
        call.timeout = attempt.time_allowed(time.monotonic())
        with self._attempt_scope(call) as exchange:
            raw = await await_within(
                self._acomplete(call), call.timeout, lambda: self._timed_out(call)
            )
        return self._to_result(raw, call, exchange)

    @contextmanager
    def _attempt_scope(self, call: Call) -> Iterator[Exchange]:
        """Around one provider call: rebuild the client when due, mark the code inside as
        working for the flight this call leads (a call it makes must not wait for it), observe
        the HTTP exchange (which ends at the attempt's deadline), and turn what the call raises
        into a typed error."""
        self._maybe_reset()
        with leading(call.flight), observing(call.timeout) as exchange:
            try:
                yield exchange
            except LLMError:
                raise
            except Exception as exc:
                self._raise_typed(exc, call, exchange)

    def _timed_out(self, call: Call) -> LLMTimeoutError:
        return LLMTimeoutError(
            f"no reply within {call.timeout:.3g} s", model=call.model, base_url=self.endpoint
        )

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

    # ----- steps around the attempts

    def _prepare(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        kwargs = dict(kwargs)
        per_call_cache = kwargs.pop("cache", None)
        timeout = kwargs.pop("timeout", self.timeout)
        call = self._new_call(args, kwargs, timeout)
        request = call.request
        if should_cache(
            per_call_cache, self.cache, request, always_same=self._always_same_reply(request)
        ):
            call.key = request_key(request)
            call.use_cache = call.key is not None
            call.cache = get_cache() if call.use_cache else None
        call.prompt_tokens = self._estimated_prompt_tokens(request)
        price = self._price(call.model)
        if price is not None:
            reply_tokens = self._reply_token_limit(request)
            call.estimate = call.prompt_tokens * price.input + reply_tokens * price.output
        return call

    def _price(self, model: str) -> Price | None:
        return self.prices if self.prices is not None else price_for(model)

    def _from_cache(self, call: Call) -> Any:
        """The cached reply, or None; an entry that is not a reply is dropped (with a warning)."""
        if not call.use_cache:
            return None
        stored = call.cache.get(call.key)
        if stored is None:
            return None
        try:
            result = self._from_stored(stored, call)
        except MalformedResponseError as error:
            call.cache.discard(call.key, error.message)
            return None
        result.usage = Usage(cache_hit=True, attempts=0)  # no tokens, no cost
        self._record(call.model, cache_hits=1)
        log_cache_hit(call.model, call.key)
        remember(self.history, self, call.request, response=result)
        return result

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

    def _retrying(self, call: Call, error: LLMError, attempt: int, delay: float) -> None:
        if error.model is None:
            error.model = call.model
        self._record(call.model, retries=1)
        log_retry(call.model, error, attempt, delay)

    def _account(self, call: Call, result: Any, **deltas: Any) -> None:
        """Book a reply from the model: its cost and latency, the budgets, the ledgers (with
        `deltas` added), the cache and the history."""
        usage = result.usage
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
            **deltas,
        )
        if call.use_cache:
            call.cache.set(call.key, result.to_dict())
        remember(self.history, self, call.request, response=result)

    def _failed(self, call: Call, exc: BaseException) -> None:
        for item in call.budgets:
            item.cancel(call.estimate)
        if isinstance(exc, LLMError) and exc.model is None:
            exc.model = call.model
        if isinstance(exc, Exception):
            self._record(call.model, errors=1)
            log_failure(call.model, exc)
            remember(self.history, self, call.request, error=exc)

    def inspect_history(self, n: int = 1) -> None:
        """Print this client's last ``n`` calls (see `opto.llm.inspect_history`)."""
        print(self.history.render(n))

    def _record(self, model: str, **deltas: Any) -> None:
        self.usage.record(model, **deltas)
        record_usage(model, **deltas)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, backend={self.backend_name!r})"
