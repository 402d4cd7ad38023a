"""Turning a failed provider call into one of opto's typed errors.

Classification never reads an SDK's message text, which changes between releases. It uses,
in order:

1. what opto saw on the wire (`http_observer.Exchange`): the HTTP status, and the body, which
   opto validates itself. A 2xx body that is not a chat completion is `MalformedResponseError`,
   never retried; a 4xx/5xx is typed by its status and by the provider's error `code`/`type`;
2. the types along the exception's cause chain: a refused connection or an unknown host
   (`ConnectionRefusedError`, `socket.gaierror`, the HTTP library's `ConnectError`) fails at
   once, a dropped connection or a timeout is retried, a JSON decoding error is a malformed
   reply;
3. the `status_code` an SDK exception carries, for providers whose HTTP opto does not observe.

Nothing here imports a provider SDK: exception types are recognised by module and class name.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
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
from opto.llm.http_observer import Exchange
from opto.llm.response import ChatResponse
from opto.llm.retry import parse_retry_after

_HTTP_LIBRARIES = ("httpx", "httpx2", "httpcore", "httpcore2", "openai", "litellm", "aiohttp")
_TIMEOUT_NAMES = {"TimeoutException", "APITimeoutError", "Timeout", "ServerTimeoutError"}
_CONNECT_NAMES = {"ConnectError", "ClientConnectorError"}
_DROPPED_NAMES = {"RemoteProtocolError", "ReadError", "WriteError", "ServerDisconnectedError"}
_MALFORMED_NAMES = {"APIResponseValidationError", "JSONDecodeError"}
# The provider's own words, as its error body states them (not an SDK's paraphrase).
_CONTEXT_CODES = {"context_length_exceeded", "string_above_max_length"}
_CONTEXT_PHRASES = ("context length", "context window", "maximum context", "prompt is too long")
_QUOTA_CODES = {"insufficient_quota"}
_KEY_HELP = "check the API key (OPENAI_API_KEY, ANTHROPIC_API_KEY, ... or OPTO_LLM_API_KEY)"
_URL_HELP = "check the base URL (OPTO_LLM_BASE_URL; an OpenAI-compatible server's URL ends in /v1)"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes, innermost last (bounded, cycles cut)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 32:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _type_names(exc: BaseException) -> set[str]:
    """Class names along the MRO, for classes of the HTTP libraries and SDKs (and builtins)."""
    names = set()
    for cls in type(exc).__mro__:
        root = cls.__module__.split(".")[0]
        if root in _HTTP_LIBRARIES or root in ("json", "pydantic", "pydantic_core"):
            names.add(cls.__name__)
    return names


def provider_message(exc: BaseException) -> str:
    """The provider's own words in the SDK exception `exc`: `error.message` of the body the
    SDK parsed, if it did, else the exception's message."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) and message else str(exc) or type(exc).__name__


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    """(message, code) of an OpenAI-style error body `{"error": {"message", "code", "type"}}`."""
    if not isinstance(body, dict):
        return None, None
    inner = body.get("error", body)
    if isinstance(inner, str):
        return inner, None
    if not isinstance(inner, dict):
        return None, None
    message = inner.get("message") if isinstance(inner.get("message"), str) else None
    code = next((inner[key] for key in ("code", "type") if isinstance(inner.get(key), str)), None)
    return message, code


def body_problem(exchange: Exchange | None) -> str | None:
    """Why the 2xx body `exchange` saw on the wire is not a chat completion; None if it is
    one, or if no complete body was seen (a stream, or nothing observed)."""
    if exchange is None or exchange.status is None or not 200 <= exchange.status < 300:
        return None
    if exchange.full_body() is None:
        return None
    try:
        data = exchange.body_json()
    except (ValueError, RecursionError):
        kind = exchange.headers.get("content-type", "no content type")
        return f"the body is not JSON ({kind}): {exchange.body_excerpt()!r}"
    try:
        ChatResponse.from_dict(data)
    except MalformedResponseError as error:
        return error.message
    return None


def error_from_status(
    status: int,
    message: str,
    *,
    code: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    retry_after: float | None = None,
    provider_text: str | None = None,
) -> LLMError:
    """The typed error for an HTTP status, with the provider's message and error code.

    `provider_text` is what the provider itself wrote (its error body's message), read for the
    few meanings only words carry (a context window, a used-up quota); it defaults to
    `message`. Pass "" when `message` may be an SDK's own wording. `status` picks the class;
    `code` is the provider's error code (``context_length_exceeded``, ...); `model`,
    `base_url` and `retry_after` (seconds the provider asked us to wait) are kept on the error.
    """
    lowered = (message if provider_text is None else provider_text).lower()
    common: dict[str, Any] = {
        "model": model,
        "base_url": base_url,
        "status_code": status,
        "provider_message": message,
        "retry_after": retry_after,
    }
    too_long = code in _CONTEXT_CODES or any(p in lowered for p in _CONTEXT_PHRASES)
    if status == 413 or (status in (400, 422) and too_long):
        return ContextWindowError(f"prompt too long for the model: {message}", **common)
    if status in (400, 422):
        return InvalidRequestError(f"request rejected: {message}", **common)
    if status in (401, 403):
        return AuthenticationError(f"authentication failed: {message}; {_KEY_HELP}", **common)
    if status == 404:
        return NotFoundError(
            f"not found: {message}; check the model name, and {_URL_HELP}", **common
        )
    if status == 408:
        return LLMTimeoutError(f"server timed out: {message}", **common)
    if status == 429:
        quota = code in _QUOTA_CODES or "exceeded your current quota" in lowered
        hint = " (quota used up: not retried)" if quota else ""
        return RateLimitError(f"rate limited{hint}: {message}", retryable=not quota, **common)
    if status >= 500 or status == 409:
        return ServerError(f"server error: {message}", **common)
    return LLMError(f"HTTP {status}: {message}", **common)


def _from_exchange(exchange: Exchange, model: str | None, base_url: str | None) -> LLMError | None:
    status = exchange.status
    if status is None:
        return None
    where = exchange.url or base_url
    if 200 <= status < 300:
        problem = body_problem(exchange)
        if problem is None:
            return None
        return MalformedResponseError(
            f"the server answered {status} with a body that is not a chat completion: "
            f"{problem}; {_URL_HELP}",
            model=model,
            base_url=where,
            status_code=status,
        )
    if status < 400:
        return None
    try:
        message, code = _error_fields(exchange.body_json())
    except (ValueError, RecursionError):
        message, code = None, None
    message = message or exchange.body_excerpt() or f"HTTP {status}"
    return error_from_status(
        status,
        message,
        code=code,
        model=model,
        base_url=where,
        retry_after=parse_retry_after(exchange.headers),
    )


def _connection_error(
    chain: list[BaseException], names: set[str], model: str | None, base_url: str | None
) -> LLMError | None:
    where = base_url or "the server"
    fields = {"model": model, "base_url": base_url}
    if any(isinstance(exc, ConnectionRefusedError) for exc in chain):
        return LLMConnectionError(
            f"nothing is listening at {where} (connection refused): start the server, or "
            f"{_URL_HELP} and its port",
            retryable=False,
            **fields,
        )
    if any(isinstance(exc, socket.gaierror) for exc in chain):
        return LLMConnectionError(
            f"the host of {where} is unknown (name lookup failed): {_URL_HELP} and the network",
            retryable=False,
            **fields,
        )
    if names & _CONNECT_NAMES:
        cause = next((e for e in reversed(chain) if isinstance(e, OSError)), chain[-1])
        return LLMConnectionError(
            f"could not connect to {where} ({type(cause).__name__}: {cause}): {_URL_HELP} "
            "and the network",
            retryable=False,
            **fields,
        )
    if names & _DROPPED_NAMES or any(isinstance(e, ConnectionError) for e in chain):
        return LLMConnectionError(
            f"the connection to {where} broke during the request", retryable=True, **fields
        )
    return None


def translate_exception(
    exc: BaseException,
    model: str | None = None,
    *,
    base_url: str | None = None,
    exchange: Exchange | None = None,
) -> LLMError:
    """Map any exception raised while calling a provider to an `LLMError`.

    Args:
        exc: what the SDK (or the transport) raised.
        model: the model of the call, named in the error.
        base_url: the endpoint of the call, named in connection and HTTP errors.
        exchange: what opto observed on the wire during the attempt, when it did.
    """
    if isinstance(exc, LLMError):
        return exc
    if exchange is not None:
        observed = _from_exchange(exchange, model, base_url)
        if observed is not None:
            return observed
    chain = list(_chain(exc))
    names = set().union(*(_type_names(item) for item in chain))
    message = provider_message(exc)
    fields: dict[str, Any] = {"model": model, "base_url": base_url}
    if "ContextWindowExceededError" in names:
        return ContextWindowError(
            f"prompt too long for the model: {message}",
            status_code=400,
            provider_message=message,
            **fields,
        )
    if names & _TIMEOUT_NAMES or any(isinstance(e, TimeoutError) for e in chain):
        where = f" from {base_url}" if base_url else ""
        return LLMTimeoutError(f"no reply{where} in time", provider_message=message, **fields)
    connection = _connection_error(chain, names, model, base_url)
    if connection is not None:
        return connection
    if names & _MALFORMED_NAMES:
        return MalformedResponseError(
            f"the server's reply is not a valid chat completion: {message}; {_URL_HELP}",
            provider_message=message,
            **fields,
        )
    response = getattr(exc, "response", None)
    real_status = getattr(response, "status_code", None)
    if isinstance(real_status, int) and 200 <= real_status < 300:
        return MalformedResponseError(
            f"the server answered {real_status} with a body that is not a chat completion",
            status_code=real_status,
            provider_message=message,
            **fields,
        )
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 400:
        retry_after = next(
            (
                seconds
                for headers in (
                    getattr(response, "headers", None),
                    getattr(exc, "litellm_response_headers", None),
                    getattr(exc, "headers", None),
                )
                if hasattr(headers, "items") and (seconds := parse_retry_after(headers)) is not None
            ),
            None,
        )
        body_message, code = _error_fields(getattr(exc, "body", None))
        return error_from_status(
            status,
            body_message or message,
            code=code,
            retry_after=retry_after,
            provider_text=body_message or "",
            **fields,
        )
    if isinstance(exc, TypeError):
        return InvalidRequestError(
            f"invalid parameter: {message}; pass provider-specific parameters in extra_body={{...}}",
            provider_message=message,
            **fields,
        )
    return LLMError(f"{type(exc).__name__}: {message}", provider_message=message, **fields)
