"""``opto.utils.llm`` and ``opto.utils.auto_retry`` as Trace programs use them: custom models
returning OpenAI-shaped objects, the model property, environment helpers, retries."""

import json
from types import SimpleNamespace

import pytest

from opto.optimizers import OptoPrime
from opto.trace import node
from opto.utils import llm as trace_llm
from opto.utils.auto_retry import retry_with_exponential_backoff
from opto.utils.llm import AbstractModel, DummyLLM, auto_construct_oai_config_list_from_env


def namespace_reply(text):
    message = SimpleNamespace(role="assistant", content=text)
    return SimpleNamespace(choices=[SimpleNamespace(message=message, finish_reason="stop")])


def test_a_model_returning_a_simple_namespace_drives_optoprime():
    def my_model(messages, **_):
        return namespace_reply(json.dumps({"reasoning": "r", "suggestion": {"x0": 7}}))

    x = node(1, trainable=True, name="x")
    for client in (AbstractModel(lambda: my_model), DummyLLM(my_model)):
        x._set(1)
        optimizer = OptoPrime([x], llm=client)
        optimizer.zero_feedback()
        optimizer.backward(x + 1, "should be 8")
        optimizer.step()
        assert x.data == 7


def test_abstract_model_property_is_the_callable_and_can_be_overridden():
    def echo(messages, **_):
        return namespace_reply(messages[-1]["content"])

    model = AbstractModel(lambda: echo)
    assert model.model is echo
    assert model(messages=[{"role": "user", "content": "hi"}]).choices[0].message.content == "hi"

    class Shouting(AbstractModel):
        def __init__(self):
            super().__init__(lambda: echo)

        @property
        def model(self):
            return lambda **kwargs: namespace_reply(kwargs["messages"][-1]["content"].upper())

    assert (
        Shouting()(messages=[{"role": "user", "content": "hi"}]).choices[0].message.content == "HI"
    )


def test_a_malformed_object_is_a_clear_error():
    def broken(**_):
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=3))])

    with pytest.raises(Exception, match="content is int, not text"):
        DummyLLM(broken)(messages=[{"role": "user", "content": "hi"}])


def test_environment_helpers():
    assert auto_construct_oai_config_list_from_env({}) == []
    assert auto_construct_oai_config_list_from_env(
        {"OPENAI_API_KEY": "k1", "ANTHROPIC_API_KEY": "k2"}
    ) == [
        {"model": "gpt-4o", "api_key": "k1"},
        {"model": "claude-3-5-sonnet-latest", "api_key": "k2"},
    ]
    assert isinstance(trace_llm.TRACE_DEFAULT_LLM_BACKEND, str)


def test_retry_waits_on_temporary_errors_and_returns_the_result():
    waits, attempts = [], []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("Service Unavailable, try later")
        return "ok"

    assert retry_with_exponential_backoff(flaky, base_delay=0.5, sleep=waits.append) == "ok"
    assert waits == [0.5, 1.1]


def test_retry_waits_longer_on_rate_limits_and_gives_up_with_the_cause():
    waits = []

    class RateLimitError(Exception):
        pass

    def limited():
        raise RateLimitError("slow down")

    with pytest.raises(RuntimeError, match="fetch: Failed after 3 attempts") as caught:
        retry_with_exponential_backoff(limited, 3, operation_name="fetch", sleep=waits.append)
    assert waits == [2, 9]
    assert isinstance(caught.value.__cause__, RateLimitError)


def test_retry_raises_other_errors_at_once_and_always_calls_once():
    calls = []

    def wrong():
        calls.append(1)
        raise KeyError("missing")

    with pytest.raises(KeyError):
        retry_with_exponential_backoff(wrong, sleep=lambda _: None)
    assert len(calls) == 1
    assert retry_with_exponential_backoff(lambda: 5, max_retries=0) == 5
