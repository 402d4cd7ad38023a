"""Typed errors of the LLM layer.

Every provider failure is turned into one of these classes, so callers can catch a meaning
(`RateLimitError`, `ContextWindowError`) instead of a provider's exception type. Each error keeps
the provider's own message, the HTTP status when there was one, and says whether retrying can help.
"""

from __future__ import annotations

from typing import Any

from opto.utils.errors import OptoError, OptoWarning


class LLMError(OptoError):
    """Base class of every error raised by `opto.llm`.

    `message` says what went wrong in opto's words; `model` and `base_url` say which model and
    server the call went to; `status_code` is the HTTP status when there was one and
    `provider_message` the provider's own explanation; `retry_after` the seconds the provider
    asked us to wait. `retryable` overrides the class's answer to "can another attempt
    help?". After a call, `attempts` counts the attempts made and `original` holds the
    provider's exception, if any.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        base_url: str | None = None,
        status_code: int | None = None,
        provider_message: str | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.model = model
        self.base_url = base_url
        self.status_code = status_code
        self.provider_message = provider_message
        self.retry_after = retry_after
        self.attempts = 0
        self.original: BaseException | None = None  # the provider's exception, if any
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        parts = [self.message]
        if self.model:
            parts.append(f"model={self.model!r}")
        if self.base_url and self.base_url not in self.message:
            parts.append(f"base_url={self.base_url!r}")
        if self.status_code is not None:
            parts.append(f"status={self.status_code}")
        if self.attempts > 1:
            parts.append(f"after {self.attempts} attempts")
        return " | ".join(parts)


class LLMNotConfiguredError(LLMError):
    """No model is configured; the message names the variables to set."""


class BackendUnavailableError(LLMError):
    """The backend's SDK is not installed, or the backend is not supported."""


class InvalidRequestError(LLMError, ValueError):
    """The request is malformed (bad messages, unknown parameter, provider said 400)."""


class ContextWindowError(InvalidRequestError):
    """The prompt plus the requested completion does not fit in the model's context window."""


class AuthenticationError(LLMError):
    """The provider refused the credentials (401/403) or none were given."""


class NotFoundError(LLMError):
    """The model or endpoint does not exist (404)."""


class RateLimitError(LLMError):
    """The provider asked us to slow down (429). A used-up quota is not retryable."""

    retryable = True


class ServerError(LLMError):
    """The provider failed (5xx); usually transient."""

    retryable = True


class LLMConnectionError(LLMError, ConnectionError):
    """The server could not be reached or dropped the connection."""

    retryable = True


class LLMTimeoutError(LLMError, TimeoutError):
    """The call took longer than its timeout."""

    retryable = True


class MalformedResponseError(LLMError):
    """The server answered, but not with an OpenAI chat-completions body.

    Not retried: the usual cause is a wrong base URL (a web page instead of an API), which
    retrying cannot fix.
    """


class TruncatedResponseError(LLMError):
    """The reply stopped at the token limit (finish_reason "length"); raised on request only
    (``on_truncation="raise"``).

    `message` explains; `response` is the cut reply, kept so a caller can still use it; other
    keyword arguments are those of `LLMError`.
    """

    def __init__(self, message: str, *, response: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.response = response


class TruncationWarning(OptoWarning):
    """A reply stopped at the token limit (finish_reason "length")."""


class TokenCountWarning(OptoWarning):
    """A provider reported token counts no request can produce (negative, or above the bound of
    the request); they were clamped so they neither credit nor blow a budget."""


class CacheError(LLMError):
    """A reply cache file cannot be used: it is not an opto cache, or it is damaged as a whole.

    The message names the file; deleting it costs only re-asking the calls it held.
    """


class CacheEntryError(CacheError):
    """One cache entry cannot be read as a reply. The cache drops it and asks the model.

    `message` says why; `key` is the entry's cache key; other keyword arguments are those of
    `LLMError`.
    """

    def __init__(self, message: str, *, key: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.key = key


class CacheWarning(OptoWarning):
    """A cache entry could not be read as a reply; it was dropped and the model was asked."""


class ScriptExhaustedError(LLMError):
    """A `ScriptedLLM` was called more often than it has replies."""


class ReplayError(LLMError):
    """A replay file is missing or unreadable."""


class ReplayMissError(ReplayError):
    """A `ReplayLLM` received a request that is not in its recording."""


class BudgetError(LLMError):
    """Base class of budget failures."""


class BudgetExceeded(BudgetError):
    """The next call would go over `max_cost` or `max_calls`; it was not made.

    `message` names the budget; `limit_name` is ``max_cost`` or ``max_calls``, `limit` its
    value, `spent` what was used so far and `needed` what this call would have added (dollars
    or calls). Other keyword arguments are those of `LLMError`.
    """

    def __init__(
        self,
        message: str,
        *,
        limit_name: str = "",
        limit: float = 0.0,
        spent: float = 0.0,
        needed: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.limit_name = limit_name
        self.limit = limit
        self.spent = spent
        self.needed = needed


class PriceUnknownError(BudgetError):
    """A cost budget is active but the model's price is unknown, so it cannot be enforced."""


class UnknownProfileError(LLMError, KeyError):
    """`LLMFactory` has no profile of that name."""

    def __str__(self) -> str:
        return LLMError.__str__(self)
