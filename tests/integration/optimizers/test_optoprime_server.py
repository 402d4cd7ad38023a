"""OptoPrime end to end through the real openai and litellm clients and a loopback server."""

import json

import pytest

from opto.llm import LLM
from opto.optimizers import OptoPrime
from opto.trace import bundle, node


@bundle(trainable=True)
def strange_sort(xs):
    """Sorts a list: minimum, then maximum of the rest, then minimum, ..."""
    return sorted(xs)


ORIGINAL_SOURCE = strange_sort.parameter.data

FIXED = (
    "def strange_sort(xs):\n"
    '    """Sorts a list: minimum, then maximum of the rest, then minimum, ..."""\n'
    "    rest, out = sorted(xs), []\n"
    "    while rest:\n"
    "        out.append(rest.pop(0))\n"
    "        if rest:\n"
    "            out.append(rest.pop())\n"
    "    return out\n"
)


@pytest.mark.parametrize("backend", ["openai", "litellm"])
def test_optoprime_fixes_code_through_a_real_client(chat_server, backend):
    code = strange_sort.parameter
    code.set_data(ORIGINAL_SOURCE)
    suggestion = {"reasoning": "alternate ends", "answer": "", "suggestion": {code.py_name: FIXED}}
    chat_server.push(
        chat_server.reply("```json\n" + json.dumps(suggestion) + "\n```"),
    )
    model = "local" if backend == "openai" else "openai/local"
    llm = LLM(model, backend=backend, base_url=chat_server.url, api_key="test-key", prices=(0, 0))
    optimizer = OptoPrime(strange_sort.parameters(), llm=llm)
    output = strange_sort([3, 1, 2])
    optimizer.zero_feedback()
    optimizer.backward(output, "expected [1, 3, 2]")
    result = optimizer.step()
    assert result == {code: FIXED} and strange_sort([3, 1, 2]).data == [1, 3, 2]
    request = chat_server.bodies[-1]
    assert request["response_format"] == {"type": "json_object"}
    assert request["messages"][1]["content"].startswith("\nNow you see problem instance:")
    assert f"(code) {code.py_name}:def strange_sort(xs):" in request["messages"][1]["content"]
    assert optimizer.log[-1]["usage"]["prompt_tokens"] == 10


def test_server_without_json_mode_is_retried_plainly(chat_server):
    x = node(1, trainable=True, name="x")
    chat_server.push(
        chat_server.status(400, "response_format is not supported by this server"),
        chat_server.reply(json.dumps({"reasoning": "", "suggestion": {"x0": 2}})),
    )
    llm = LLM("local", backend="openai", base_url=chat_server.url, api_key="k", prices=(0, 0))
    optimizer = OptoPrime([x], llm=llm)
    optimizer.zero_feedback()
    optimizer.backward(x * 3, "should be 6")
    assert optimizer.step() == {x: 2}
    assert (
        "response_format" in chat_server.bodies[0]
        and "response_format" not in chat_server.bodies[1]
    )
