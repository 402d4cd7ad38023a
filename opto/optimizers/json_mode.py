"""JSON mode for optimizer calls, with a fallback for endpoints that reject it.

JSON mode (``response_format={"type": "json_object"}``) matters most for small models:
Qwen2.5-Coder-1.5B wrote a valid JSON object 20 times out of 20 with it and never without it.
So it is asked for on every call, except from a client that has rejected it: an endpoint that
answers HTTP 400/422 to a request with ``response_format`` is asked once more without it, and
when that works the client is remembered, so later calls do not pay for the rejection again.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

JSON_OBJECT = {"type": "json_object"}


def names_response_format(error: BaseException) -> bool:
    """True when the error's text says the request's ``response_format`` was the problem."""
    texts = [str(error), str(getattr(error, "provider_message", "") or "")]
    folded = " ".join(texts).casefold()
    return any(word in folded for word in ("response_format", "response format", "json_object"))


def _worth_a_plain_retry(error: BaseException) -> bool:
    """A request refused as invalid (not for its length) may have failed for JSON mode alone;
    budget, authentication, rate and connection errors are not retried here."""
    from opto.llm.errors import ContextWindowError, InvalidRequestError, LLMError

    if isinstance(error, ContextWindowError):
        return False
    if isinstance(error, InvalidRequestError):
        return True
    return not isinstance(error, LLMError)


class JsonModeRequests:
    """Makes an optimizer's calls, in JSON mode unless the client has rejected it.

    The clients that rejected JSON mode are held (compared by identity) for the optimizer's
    life; a copy of the optimizer keeps what its original learned.
    """

    def __init__(self) -> None:
        self._rejected_by: list[Any] = []

    def rejected_by(self, client: Any) -> bool:
        """Whether ``client`` has rejected JSON mode before (it is then not asked for)."""
        return any(known is client for known in self._rejected_by)

    def call(self, client: Any, messages: list[dict], **options: Any) -> Any:
        """``client(messages=..., response_format=JSON mode, **options)``, or without
        ``response_format`` when the client rejects it (retried once, then remembered).

        Arguments:
            client: the LLM client (any callable taking ``messages`` and keyword options).
            messages: the chat messages.
            options: further request options (``max_tokens``, ``temperature``, ...).
        """
        if self.rejected_by(client):
            return client(messages=messages, **options)
        try:
            return client(messages=messages, response_format=dict(JSON_OBJECT), **options)
        except Exception as error:
            if not _worth_a_plain_retry(error):
                raise
            first_error = error
        response = client(messages=messages, **options)
        from opto.llm.errors import LLMError

        if isinstance(first_error, LLMError) or names_response_format(first_error):
            self._rejected_by.append(client)
            logger.info(
                "%s rejected JSON mode (%s); its later calls are made without response_format",
                type(client).__name__,
                str(first_error)[:200],
            )
        return response
