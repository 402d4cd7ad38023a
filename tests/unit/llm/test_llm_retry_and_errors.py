import json
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from opto.llm import (
    AuthenticationError,
    ContextWindowError,
    InvalidRequestError,
    LLMConnectionError,
    LLMError,
    LLMTimeoutError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from opto.llm.provider_errors import error_from_status, translate_exception
from opto.llm.retry import parse_retry_after


def policy(**changes):
    options = dict(base_delay=1.0, max_delay=8.0, jitter=0.5, max_attempts=10, max_total_wait=100.0)
    options.update(changes)
    return RetryPolicy(rng=random.Random(7), **options)


def test_backoff_grows_exponentially_within_jitter_and_cap():
    retry = policy()
    for attempt, nominal in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (6, 8.0)]:
        delay = retry.backoff(attempt)
        assert nominal * 0.5 <= delay <= nominal


def test_jitter_spreads_waits():
    retry = policy()
    assert len({round(retry.backoff(3), 6) for _ in range(20)}) > 1
    assert policy(jitter=0.0).backoff(3) == 4.0


def test_only_retryable_errors_are_retried():
    retry = policy()
    assert retry.next_delay(1, ServerError("boom"), 0.0) is not None
    assert retry.next_delay(1, RateLimitError("slow"), 0.0) is not None
    assert retry.next_delay(1, LLMTimeoutError("t"), 0.0) is not None
    assert retry.next_delay(1, LLMConnectionError("c"), 0.0) is not None
    for error in (
        InvalidRequestError("bad"),
        AuthenticationError("key"),
        ContextWindowError("long"),
        MalformedResponseError("html"),
        NotFoundError("model"),
    ):
        assert retry.next_delay(1, error, 0.0) is None


def test_attempts_are_bounded():
    retry = policy(max_attempts=3)
    assert retry.next_delay(2, ServerError("x"), 0.0) is not None
    assert retry.next_delay(3, ServerError("x"), 0.0) is None


def test_retry_after_is_a_floor():
    retry = policy(jitter=0.0)
    assert retry.next_delay(1, RateLimitError("x", retry_after=5.0), 0.0) == 5.0
    assert retry.next_delay(4, RateLimitError("x", retry_after=0.5), 0.0) == 8.0


def test_total_wait_is_bounded():
    retry = policy(jitter=0.0, max_total_wait=10.0)
    assert retry.next_delay(1, RateLimitError("x", retry_after=3600), 0.0) is None
    assert retry.next_delay(4, ServerError("x"), 5.0) is None
    assert retry.next_delay(1, ServerError("x"), 5.0) == 1.0


def test_policy_validates_its_numbers():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=2)


def test_parse_retry_after_forms():
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= parse_retry_after({"Retry-After": later}) <= 31
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "message", "kind", "retryable"),
    [
        (400, "This model's maximum context length is 8192 tokens", ContextWindowError, False),
        (413, "payload too large", ContextWindowError, False),
        (400, "unknown parameter foo", InvalidRequestError, False),
        (401, "bad key", AuthenticationError, False),
        (403, "forbidden", AuthenticationError, False),
        (404, "model x not found", NotFoundError, False),
        (408, "timeout", LLMTimeoutError, True),
        (429, "Rate limit reached", RateLimitError, True),
        (429, "You exceeded your current quota", RateLimitError, False),
        (500, "boom", ServerError, True),
        (503, "overloaded", ServerError, True),
        (418, "teapot", LLMError, False),
    ],
)
def test_status_mapping(status, message, kind, retryable):
    error = error_from_status(status, message, model="m", retry_after=2.0)
    assert type(error) is kind
    assert error.retryable is retryable
    assert message in str(error) and error.provider_message == message
    assert error.status_code == status and error.retry_after == 2.0


def _caused(outer, *causes):
    """`outer` raised while handling each of `causes` in turn (innermost last)."""
    chain = [outer, *causes]
    for position in range(len(causes)):
        chain[position].__cause__ = chain[position + 1]
    return outer


def _sdk_request():
    import openai

    from opto.llm.openai_clients import sdk_http_module

    return sdk_http_module(openai).Request("POST", "http://127.0.0.1:9/v1/chat/completions")


def test_translate_real_sdk_exceptions_by_type():
    import openai

    from opto.llm.litellm_backend import import_litellm

    litellm = import_litellm()

    from opto.llm.openai_clients import sdk_http_module

    http = sdk_http_module(openai)
    request = _sdk_request()
    response = http.Response(429, headers={"retry-after": "3"}, request=request)
    limited = openai.RateLimitError(
        "Error code: 429", response=response, body={"error": {"message": "slow down"}}
    )
    error = translate_exception(limited, "m")
    assert isinstance(error, RateLimitError) and error.retry_after == 3.0
    assert "slow down" in str(error) and error.model == "m"
    assert isinstance(translate_exception(openai.APITimeoutError(request)), LLMTimeoutError)
    assert isinstance(translate_exception(TimeoutError("t")), LLMTimeoutError)
    dropped = translate_exception(ConnectionResetError("reset"))
    assert isinstance(dropped, LLMConnectionError) and dropped.retryable
    too_long = litellm.ContextWindowExceededError("too long", model="m", llm_provider="openai")
    assert isinstance(translate_exception(too_long), ContextWindowError)


@pytest.mark.parametrize(
    ("cause", "says"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (__import__("socket").gaierror(-2, "Name or service not known"), "host"),
    ],
    ids=["refused", "unknown-host"],
)
def test_connection_failures_are_not_retried_and_name_the_url(cause, says):
    import openai

    from opto.llm.openai_clients import sdk_http_module

    http = sdk_http_module(openai)
    sdk_error = _caused(
        openai.APIConnectionError(request=_sdk_request()), http.ConnectError("x"), cause
    )
    error = translate_exception(sdk_error, "m", base_url="http://127.0.0.1:9/v1")
    assert isinstance(error, LLMConnectionError) and not error.retryable
    assert says in str(error) and "http://127.0.0.1:9/v1" in str(error)
    assert "OPTO_LLM_BASE_URL" in str(error) and "model='m'" in str(error)


def test_classification_ignores_the_sdk_wording():
    """The same exception types classify the same way whatever their messages say."""
    import openai

    for words in ("Connection error.", "Expecting value", "no 'choices'", "Missing credentials"):
        sdk_error = _caused(
            openai.APIConnectionError(message=words, request=_sdk_request()),
            ConnectionRefusedError(111, words),
        )
        error = translate_exception(sdk_error, "m", base_url="http://h/v1")
        assert isinstance(error, LLMConnectionError) and not error.retryable, words


def _exchange(status, body, content_type="application/json"):
    from opto.llm.http_observer import Exchange

    exchange = Exchange()
    exchange.start_response("http://h/v1/chat/completions", status, {"content-type": content_type})
    exchange.take(body.encode())
    exchange.body_complete = True
    return exchange


@pytest.mark.parametrize(
    "body", ['{"foo": 1}', "not json{", "<html>Login</html>", '{"choices": []}', "[]"]
)
def test_a_2xx_body_that_is_not_a_completion_is_malformed_whatever_the_sdk_raised(body):
    for raised in (RuntimeError("500 Internal Server Error"), ValueError("x")):
        error = translate_exception(raised, "m", exchange=_exchange(200, body))
        assert isinstance(error, MalformedResponseError) and not error.retryable
        assert error.status_code == 200


def test_an_error_status_is_typed_from_the_body_opto_read():
    body = '{"error": {"message": "This model\'s maximum context length is 10", "code": null}}'
    error = translate_exception(RuntimeError("x"), "m", exchange=_exchange(400, body))
    assert isinstance(error, ContextWindowError)
    quota = '{"error": {"message": "no", "code": "insufficient_quota"}}'
    error = translate_exception(RuntimeError("x"), "m", exchange=_exchange(429, quota))
    assert isinstance(error, RateLimitError) and not error.retryable
    error = translate_exception(RuntimeError("x"), "m", exchange=_exchange(502, "<html>bad</html>"))
    assert isinstance(error, ServerError) and "bad" in str(error)


def test_translate_bodies_that_are_not_completions():
    assert isinstance(
        translate_exception(json.JSONDecodeError("Expecting value", "x", 0)), MalformedResponseError
    )


def test_translate_unknown_keyword_and_other_errors():
    error = translate_exception(TypeError("create() got an unexpected keyword argument 'top_k'"))
    assert isinstance(error, InvalidRequestError) and "extra_body" in str(error)
    other = translate_exception(RuntimeError("weird"))
    assert type(other) is LLMError and "weird" in str(other)
    already = RateLimitError("x")
    assert translate_exception(already) is already


def test_errors_keep_attempt_count_in_text():
    error = ServerError("boom", model="m", status_code=502)
    error.attempts = 3
    assert str(error) == "boom | model='m' | status=502 | after 3 attempts"
