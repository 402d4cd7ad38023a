"""Trace programs build objectives from ``default_objective``, whatever the optimizer.

    optimizer.objective = f"{optimizer.default_objective} Hint: ..."

must read as a sentence (no template placeholders) and reach the LLM.
"""

import json

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import OPRO, OPROv2, OptoPrime, OptoPrimeMulti, OptoPrimeV2, TextGrad
from opto.trace import node

HINT = "Hint: the answer is a small even number."


def json_reply(value):
    return json.dumps({"reasoning": "r", "answer": "", "suggestion": {"count0": value}})


def tag_reply(value, tag="variable"):
    return f"<reasoning>r</reasoning><{tag}><name>count0</name><value>{value}</value></{tag}>"


REPLIES = {
    OptoPrime: [json_reply(4)],
    OptoPrimeV2: [tag_reply(4)],
    OPRO: [json_reply(4)],
    OPROv2: [tag_reply(4, "solution")],
    OptoPrimeMulti: [json_reply(4)],
    TextGrad: ["make it larger", "<IMPROVED_VARIABLE>4</IMPROVED_VARIABLE>"],
}


@pytest.mark.parametrize("optimizer_class", list(REPLIES), ids=lambda c: c.__name__)
def test_an_objective_built_from_default_objective_reaches_the_llm(optimizer_class):
    count = node(1, trainable=True, name="count")
    llm = ScriptedLLM(REPLIES[optimizer_class])
    options = {"num_responses": 1} if optimizer_class is OptoPrimeMulti else {}
    optimizer = optimizer_class([count], llm=llm, **options)

    assert isinstance(optimizer_class.default_objective, str)
    default = optimizer.default_objective
    assert "{" not in default and default.endswith(".")
    optimizer.objective = f"{optimizer.default_objective} {HINT}"

    optimizer.zero_feedback()
    optimizer.backward(count * 2, "the output should be 8")
    optimizer.step()

    assert count.data == 4
    sent = [m["content"] for request in llm.requests for m in request["messages"]]
    assert any(f"{default} {HINT}" in text for text in sent)


def test_optoprime_v2_objective_is_filled_with_its_own_symbols():
    count = node(1, trainable=True, name="count")
    optimizer = OptoPrimeV2([count], llm=ScriptedLLM([]))
    assert "{value_tag}" in OptoPrimeV2.default_objective, "the class keeps the template"
    assert optimizer.default_objective == (
        "You need to change the `value` of the variables in # Variables to improve the output "
        "in accordance to # Feedback."
    )
    assert optimizer.objective == optimizer.default_objective
