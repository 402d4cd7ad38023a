"""A client around any Python callable: a user's own model, or a test function.

The callable receives exactly what the caller passed (Trace's convention) and may return a
string, a chat-completion dict or an OpenAI-style response object. The call still goes through
the choke point, so it is counted, limited, budgeted and retried like any provider call.
Exceptions raised by the callable propagate unchanged unless they come from a provider SDK.

The client's `timeout` bounds a call of the callable both ways. Async: a coroutine function is
awaited and cancelled at the deadline; a plain function runs in a worker thread. Sync: the
function runs in a worker thread (in a copy of the caller's context) and the caller stops
waiting at the deadline with an `LLMTimeoutError`, retried like any timeout. Python cannot stop
a thread, so a function that never returns keeps its (daemon) worker thread busy; it does not
keep the process alive. `timeout=None` runs a sync call in the caller's own thread.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from opto.llm.base import BaseLLM
from opto.llm.client import Call
from opto.llm.engine import in_worker_thread
from opto.llm.http_observer import Exchange
from opto.llm.provider_errors import translate_exception
from opto.llm.response import ChatResponse

_PROVIDER_MODULES = ("openai", "litellm", "httpx", "httpx2", "anthropic")


class CallableLLM(BaseLLM):
    """A chat client that calls `fn`, your own function, instead of a provider.

    `fn` receives exactly what the caller passed and may return a string, a chat-completion
    dict or an OpenAI-style response; `model` is the name the calls are recorded under (in
    usage, history and cache keys). Other keyword arguments are `BaseLLM` options, so the
    function gets timeouts, retries, budgets and caching like any provider.
    """

    backend_name = "callable"

    def __init__(self, fn: Callable[..., Any], model: str = "callable", **options: Any) -> None:
        if not callable(fn):
            raise TypeError(f"{type(self).__name__} needs a callable, got {type(fn).__name__}")
        super().__init__(model=model, **options)
        self.fn = fn

    def _target(self) -> Callable[..., Any]:
        return self.fn

    def _build_request(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        request = {"model": kwargs.get("model") or self.model, **self.default_params, **kwargs}
        if args:
            request["args"] = list(args)
        return request

    def _complete(self, call: Call) -> Any:
        result = self._target()(*call.args, **call.kwargs)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(f"{self!r} wraps an async callable: use `await llm.acall(...)`")
        return result

    async def _acomplete(self, call: Call) -> Any:
        target = self._target()
        if inspect.iscoroutinefunction(target):
            return await target(*call.args, **call.kwargs)
        result = await in_worker_thread(lambda: target(*call.args, **call.kwargs))
        return await result if inspect.isawaitable(result) else result

    def _to_response(self, raw: Any, call: Call) -> ChatResponse:
        if isinstance(raw, str):
            return ChatResponse.from_text(raw, model=call.model)
        if _response_shaped(raw):
            raw = _as_completion_dict(raw)
        return super()._to_response(raw, call)

    def _translate_error(
        self, exc: BaseException, call: Call, exchange: Exchange | None = None
    ) -> BaseException:
        module = type(exc).__module__.split(".")[0]
        if module not in _PROVIDER_MODULES:
            return exc
        return translate_exception(exc, call.model, exchange=exchange)


def _response_shaped(raw: Any) -> bool:
    """An object (not a dict) read as ``raw.choices[0].message.content``, e.g. a SimpleNamespace
    or a response type of another SDK, as Trace's models accept."""
    return (
        not isinstance(raw, (dict, ChatResponse))
        and not hasattr(raw, "model_dump")
        and (isinstance(getattr(raw, "choices", None), (list, tuple)))
    )


def _as_completion_dict(raw: Any) -> dict[str, Any]:
    """The chat-completion body of a response-shaped object (attributes read, not trusted:
    a missing message or a non-text content is left for the body's validation to report)."""
    choices = []
    for choice in raw.choices:
        message = getattr(choice, "message", None)
        body = None
        if message is not None:
            body = {
                "role": getattr(message, "role", None) or "assistant",
                "content": getattr(message, "content", None),
            }
        choices.append({"message": body, "finish_reason": getattr(choice, "finish_reason", None)})
    usage = getattr(raw, "usage", None)
    fields = ("prompt_tokens", "completion_tokens", "total_tokens")
    body: dict[str, Any] = {"choices": choices, "model": getattr(raw, "model", None)}
    if usage is not None and not isinstance(usage, dict):
        usage = {
            name: getattr(usage, name)
            for name in fields
            if isinstance(getattr(usage, name, None), int)
        }
    if isinstance(usage, dict):
        body["usage"] = usage
    return body
