"""Turning a provider's exception into one of opto's typed errors.

Both backends sit on the openai SDK's exception family (litellm's exceptions subclass it) and on
httpx, so exceptions are recognised by class name and by their `status_code` / `response`
attributes. Nothing here imports a provider SDK.
"""

from __future__ import annotations

import json
from typing import Any

from opto.llm.errors import (
    AuthenticationError,
    ContextWindowError,
    InvalidRequestError,
    LLMConnectionError,
    LLMError,
    LLMTimeoutError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from opto.llm.retry import parse_retry_after

_TIMEOUT_NAMES = {"APITimeoutError", "Timeout", "TimeoutException"}
_CONNECTION_NAMES = {"APIConnectionError", "TransportError", "NetworkError", "RemoteProtocolError"}
_CONTEXT_PHRASES = (
    "context length",
    "context window",
    "context_length_exceeded",
    "maximum context",
    "prompt is too long",
    "too many tokens",
    "input is too long",
)
_KEY_HELP = "check the API key (OPENAI_API_KEY, ANTHROPIC_API_KEY, ... or OPTO_LLM_API_KEY)"


def provider_message(exc: BaseException) -> str:
    """The provider's own words: the `error.message` of the body when there is one."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) and message else str(exc) or type(exc).__name__


def _retry_after(exc: BaseException, response: Any) -> float | None:
    """Retry-After from the HTTP response, or from where litellm keeps the headers."""
    for headers in (
        getattr(response, "headers", None),
        getattr(exc, "litellm_response_headers", None),
        getattr(exc, "headers", None),
    ):
        seconds = parse_retry_after(headers) if hasattr(headers, "items") else None
        if seconds is not None:
            return seconds
    return None


def error_from_status(
    status: int, message: str, *, model: str | None = None, retry_after: float | None = None
) -> LLMError:
    """The typed error for an HTTP status and the provider's message."""
    lowered = message.lower()
    common: dict[str, Any] = {
        "model": model,
        "status_code": status,
        "provider_message": message,
        "retry_after": retry_after,
    }
    if status == 413 or (status in (400, 422) and any(p in lowered for p in _CONTEXT_PHRASES)):
        return ContextWindowError(f"prompt too long for the model: {message}", **common)
    if status in (400, 422):
        return InvalidRequestError(f"request rejected: {message}", **common)
    if status in (401, 403):
        return AuthenticationError(f"authentication failed: {message}; {_KEY_HELP}", **common)
    if status == 404:
        return NotFoundError(
            f"not found: {message}; check the model name and the base URL "
            "(an OpenAI-compatible server's URL usually ends in /v1)",
            **common,
        )
    if status == 408:
        return LLMTimeoutError(f"server timed out: {message}", **common)
    if status == 429:
        quota = "insufficient_quota" in lowered or "exceeded your current quota" in lowered
        hint = " (quota used up: not retried)" if quota else ""
        return RateLimitError(f"rate limited{hint}: {message}", retryable=not quota, **common)
    if status >= 500 or status == 409:
        return ServerError(f"server error: {message}", **common)
    return LLMError(f"HTTP {status}: {message}", **common)


def translate_exception(exc: BaseException, model: str | None = None) -> LLMError:
    """Map any exception raised while calling a provider to an `LLMError`."""
    if isinstance(exc, LLMError):
        return exc
    names = {cls.__name__ for cls in type(exc).__mro__}
    message = provider_message(exc)
    if "ContextWindowExceededError" in names:
        return ContextWindowError(
            f"prompt too long for the model: {message}",
            model=model,
            status_code=400,
            provider_message=message,
        )
    if names & _TIMEOUT_NAMES or isinstance(exc, TimeoutError):
        return LLMTimeoutError(f"timed out: {message}", model=model, provider_message=message)
    response = getattr(exc, "response", None)
    real_status = getattr(response, "status_code", None)
    if isinstance(real_status, int) and 200 <= real_status < 300:
        return MalformedResponseError(
            f"server answered {real_status} with a body that is not a chat completion: {message}",
            model=model,
            provider_message=message,
        )
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        retry_after = _retry_after(exc, response)
        return error_from_status(status, message, model=model, retry_after=retry_after)
    if names & _CONNECTION_NAMES or isinstance(exc, ConnectionError):
        return LLMConnectionError(
            f"could not reach the server: {message}", model=model, provider_message=message
        )
    if isinstance(exc, json.JSONDecodeError) or "APIResponseValidationError" in names:
        return MalformedResponseError(
            f"server reply is not a valid chat completion: {message}",
            model=model,
            provider_message=message,
        )
    if "OpenAIError" in names and "api_key" in message:
        return AuthenticationError(
            f"no API key: {message}; {_KEY_HELP}", model=model, provider_message=message
        )
    if isinstance(exc, TypeError):
        return InvalidRequestError(
            f"invalid parameter: {message}; pass provider-specific parameters in extra_body={{...}}",
            model=model,
            provider_message=message,
        )
    return LLMError(f"{type(exc).__name__}: {message}", model=model, provider_message=message)
