"""Text embeddings through litellm, with the same retries, error types and usage ledger."""

from __future__ import annotations

import time
from typing import Any

from opto.llm.errors import LLMError
from opto.llm.litellm_backend import import_litellm
from opto.llm.pricing import estimate_text_tokens, price_for
from opto.llm.provider_errors import translate_exception
from opto.llm.retry import RetryPolicy
from opto.llm.usage import record_usage


def embed_text(
    model: str,
    text: str,
    *,
    retry: RetryPolicy | None = None,
    timeout: float | None = 60.0,
    **params: Any,
) -> list[float]:
    """The embedding vector of `text`; raises a typed `LLMError` when it cannot be had.

    Known quirk: litellm's embedding path reads `max_retries=0` as "use the default", so each
    attempt here may be retried inside litellm too.
    """
    policy = retry or RetryPolicy()
    litellm = import_litellm()
    attempt, waited = 0, 0.0
    started = time.monotonic()
    while True:
        attempt += 1
        try:
            reply = litellm.embedding(
                model=model, input=[text], timeout=timeout, num_retries=0, max_retries=0, **params
            )
            vector = list(reply.data[0]["embedding"])
            break
        except Exception as exc:
            error = translate_exception(exc, model)
            error.attempts = attempt
            delay = policy.next_delay(attempt, error, waited)
            if delay is None:
                record_usage(model, errors=1)
                if error is exc:
                    raise
                raise error from exc
            record_usage(model, retries=1)
            time.sleep(delay)
            waited += delay
    usage = getattr(reply, "usage", None)
    tokens = getattr(usage, "prompt_tokens", None) or estimate_text_tokens(text)
    price = price_for(model)
    record_usage(
        model,
        calls=1,
        prompt_tokens=tokens,
        cost=tokens * price.input if price else 0.0,
        unpriced_calls=int(price is None),
        latency_s=time.monotonic() - started,
    )
    return vector


def embed(
    model: str, text: str, max_retries: int = 10, base_delay: float = 1.0
) -> list[float] | None:
    """Trace's helper: the vector, or None when every attempt failed."""
    policy = RetryPolicy(max_attempts=max_retries + 1, base_delay=base_delay)
    try:
        return embed_text(model, text, retry=policy)
    except LLMError:
        return None
