"""``call_llm`` as Trace 0.1 programs write it (the default model, set up through Trace's
environment variables) and as Trace 0.2 programs write it (the model passed in)."""

import json
from types import SimpleNamespace

import pytest
from werkzeug import Request, Response

from opto import trace
from opto.trace import ExecutionError, node
from opto.utils.llm import DummyLLM


def openai_reply(text):
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "local",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


@pytest.fixture
def trace_01_default_model(httpserver, monkeypatch):
    """A local OpenAI-compatible server configured the Trace 0.1 way (CustomLLM + URL)."""
    requests = []

    def answer(request: Request) -> Response:
        body = json.loads(request.get_data(as_text=True))
        requests.append(body)
        user = [m["content"] for m in body["messages"] if m["role"] == "user"]
        return Response(
            json.dumps(openai_reply(f"Hola, {user[-1]}")), content_type="application/json"
        )

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(answer)
    for name in ("OPTO_LLM_BACKEND", "OPTO_LLM_BASE_URL", "OPTO_LLM_MODEL", "OPTO_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRACE_DEFAULT_LLM_BACKEND", "CustomLLM")
    monkeypatch.setenv("TRACE_CUSTOMLLM_URL", httpserver.url_for("/v1"))
    monkeypatch.setenv("TRACE_CUSTOMLLM_MODEL", "local-model")
    monkeypatch.setenv("TRACE_CUSTOMLLM_API_KEY", "not-needed")
    monkeypatch.setenv("OPTO_LLM_CACHE", "off")
    return requests


@trace.model
class Greeter:
    """The Trace 0.1 way: call_llm(system_prompt, *user_prompts) uses the default model."""

    def __init__(self):
        self.system_prompt = trace.node("You greet people.", trainable=True)
        self.instruction = trace.node("Greet this person:", trainable=True)

    def forward(self, name):
        return trace.operators.call_llm(self.system_prompt, self.instruction, name)


def test_trace_01_form_asks_the_default_model(trace_01_default_model):
    agent = Greeter()
    reply = agent("Ada")
    assert reply.data == "Hola, Ada"
    assert set(reply.inputs) == {"system_prompt", "args_0", "args_1"}
    assert agent.system_prompt in reply.parents and agent.instruction in reply.parents
    (request,) = trace_01_default_model
    assert request["model"] == "local-model"
    assert request["messages"] == [
        {"role": "system", "content": "You greet people."},
        {"role": "user", "content": "Greet this person:"},
        {"role": "user", "content": "Ada"},
    ]
    reply.backward("Greet in English.")
    assert agent.system_prompt.feedback and agent.instruction.feedback


def test_trace_02_form_asks_the_given_model():
    seen = []

    def reply(messages, **kwargs):
        seen.append(messages)
        return "Hello, " + messages[-1]["content"]

    llm = DummyLLM(reply)
    system = node("You greet people.", trainable=True)
    out = trace.operators.call_llm(llm, system, "Ada")
    assert out.data == "Hello, Ada"
    assert list(out.inputs) == ["llm", "system_prompt", "args_0"]
    assert seen[-1][0] == {"role": "system", "content": "You greet people."}

    no_system = trace.operators.call_llm(llm, None, "Bob")  # a None system prompt is left out
    assert no_system.data == "Hello, Bob" and seen[-1] == [{"role": "user", "content": "Bob"}]


def test_any_callable_returning_an_openai_shaped_reply_is_a_model():
    def fake_model(messages, **kwargs):
        message = SimpleNamespace(content=f"{len(messages)} messages")
        return SimpleNamespace(choices=[SimpleNamespace(message=message)])

    assert trace.operators.call_llm(fake_model, "sys", "a", "b").data == "3 messages"
    as_node = node(fake_model)
    assert trace.operators.call_llm(as_node, "sys", "a").data == "2 messages"


def test_a_failing_model_becomes_an_exception_node():
    def broken(messages, **kwargs):
        raise RuntimeError("model down")

    prompt = node("hi", trainable=True)
    with pytest.raises(ExecutionError) as caught:
        trace.operators.call_llm(broken, "sys", prompt)
    assert "model down" in caught.value.exception_node.data
    assert prompt in caught.value.exception_node.parents
