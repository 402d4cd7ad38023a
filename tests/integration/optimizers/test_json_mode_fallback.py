"""JSON mode through a real client and a loopback server: asked for while the endpoint takes
it, dropped after one retry when the endpoint rejects it (400 or 422 naming response_format),
and not asked for again from the same client."""

import json
import logging

import pytest

from opto.llm import LLM
from opto.optimizers import OptoPrime
from opto.trace import node

ANSWER = json.dumps({"reasoning": "", "suggestion": {"x0": 2}})


def rejecting_json_mode(chat_server, status_code):
    """A server that answers 'status_code' to any request with response_format."""
    reject = chat_server.status(status_code, "Unsupported parameter: 'response_format'")
    answer = chat_server.reply(ANSWER)
    return lambda body: reject(body) if "response_format" in body else answer(body)


def two_steps(optimizer, x):
    for _ in range(2):
        optimizer.zero_feedback()
        optimizer.backward(x * 3, "should be 6")
        optimizer.step()


@pytest.mark.parametrize("status_code", [400, 422])
def test_a_server_that_rejects_json_mode_costs_one_retry_per_client(
    chat_server, status_code, caplog
):
    caplog.set_level(logging.INFO, logger="opto.optimizers.json_mode")
    chat_server.default = rejecting_json_mode(chat_server, status_code)
    x = node(1, trainable=True, name="x")
    llm = LLM("local", backend="openai", base_url=chat_server.url, api_key="k", prices=(0, 0))
    optimizer = OptoPrime([x], llm=llm)
    two_steps(optimizer, x)
    with_format = ["response_format" in body for body in chat_server.bodies]
    assert with_format == [True, False, False]  # the second step asks plainly at once
    assert x.data == 2
    assert "rejected JSON mode" in caplog.text


def test_a_server_that_takes_json_mode_is_asked_for_it_every_time(chat_server):
    chat_server.default = chat_server.reply(ANSWER)
    x = node(1, trainable=True, name="x")
    llm = LLM("local", backend="openai", base_url=chat_server.url, api_key="k", prices=(0, 0))
    two_steps(OptoPrime([x], llm=llm), x)
    assert [body["response_format"] for body in chat_server.bodies] == [
        {"type": "json_object"}
    ] * 2


def test_a_context_window_error_is_not_retried_without_json_mode(chat_server):
    chat_server.default = chat_server.status(
        400, "This model's maximum context length is 8192 tokens; your messages resulted in 9000"
    )
    x = node(1, trainable=True, name="x")
    llm = LLM("local", backend="openai", base_url=chat_server.url, api_key="k", prices=(0, 0))
    optimizer = OptoPrime([x], llm=llm)
    optimizer.zero_feedback()
    optimizer.backward(x * 3, "should be 6")
    with pytest.raises(Exception, match="context"):
        optimizer.step()
    assert chat_server.count == 1
