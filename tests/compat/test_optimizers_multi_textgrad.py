"""OptoPrimeMulti (``opto.optimizers.optoprimemulti``) and TextGrad's helpers as Trace programs
use them."""

import json

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import textgrad
from opto.optimizers.optoprimemulti import OptoPrimeMulti
from opto.optimizers.textgrad import (
    GradientInfo,
    TextGrad,
    construct_reduce_prompt,
    construct_tgd_prompt,
    get_short_value,
    rm_node_attrs,
)
from opto.trace import node


def reply(value):
    return json.dumps({"reasoning": "r", "answer": "", "suggestion": {"speed0": value}})


def backward(optimizer, output, feedback):
    optimizer.zero_feedback()
    optimizer.backward(output, feedback)


def test_trace_0_1_temperature_range_is_used():
    speed = node(1, trainable=True, name="speed")
    llm = ScriptedLLM([reply(2), reply(3)])
    optimizer = OptoPrimeMulti(
        [speed], llm=llm, num_responses=2, temperature_range=[1.3, 0.0], selector=lambda c: c[0]
    )
    backward(optimizer, speed * 3, "faster")
    optimizer.step()
    assert sorted(r["temperature"] for r in llm.requests) == [0.0, 1.3]
    assert speed.data in (2, 3)


def test_call_llm_returns_one_text_per_response():
    speed = node(1, trainable=True, name="speed")
    llm = ScriptedLLM(["first", "second"])
    optimizer = OptoPrimeMulti([speed], llm=llm)
    assert optimizer.call_llm("system", "user", num_responses=2, temperature=0.7) == [
        "first",
        "second",
    ]
    assert llm.requests[0]["n"] == 2 and llm.requests[0]["temperature"] == 0.7


def test_overriding_candidate_generation_and_selection():
    class Cautious(OptoPrimeMulti):
        def generate_candidates(self, summary, system_prompt, user_prompt, **options):
            return [reply(50), reply(5)]

        def select_candidate(self, candidates, selection_technique=None, problem_summary=""):
            assert "#Feedback\nfaster" in problem_summary
            return min(candidates, key=lambda c: json.loads(c)["suggestion"]["speed0"])

    speed = node(1, trainable=True, name="speed")
    optimizer = Cautious([speed], llm=ScriptedLLM([]))
    backward(optimizer, speed * 3, "faster")
    optimizer.step()
    assert speed.data == 5 and optimizer.selected_candidate == reply(5)


def test_construct_tgd_prompt_builds_one_text_or_a_list_of_parts():
    tags = {"new_variable_start_tag": "<NEW>", "new_variable_end_tag": "</NEW>"}
    text = construct_tgd_prompt(
        do_constrained=True,
        variable_desc="the greeting",
        variable_short="Hi",
        variable_grad="too short",
        constraint_text="one line",
        **tags,
    )
    assert isinstance(text, str)
    assert "too short" in text and "one line" in text and text.rstrip().endswith("</NEW>.")
    parts = construct_tgd_prompt(
        variable_desc="the greeting",
        variable_short="Hi",
        variable_grad=["part a", "part b"],
        **tags,
    )
    assert parts[1:3] == ["part a", "part b"] and len(parts) == 4
    with pytest.raises(KeyError):
        construct_tgd_prompt(variable_desc="x", variable_grad="g", **tags)


def test_gradient_info_and_the_reduce_prompt():
    plain = GradientInfo("shorter")
    with_context = GradientInfo("longer", {"context": "c"})
    assert len(plain) == 1 and len(with_context) == 2
    assert plain[0] == "shorter" and with_context[1] == {"context": "c"}
    with pytest.raises(IndexError):
        plain[2]
    assert construct_reduce_prompt([plain, with_context]) == (
        "<FEEDBACK>shorter</FEEDBACK>\n<FEEDBACK>longer</FEEDBACK>"
    ), "Trace put the GradientInfo repr in the prompt"


def test_text_helpers():
    assert rm_node_attrs("[add] Sum of x and y. [note]") == "Sum of x and y."
    assert rm_node_attrs(None) == ""
    words = " ".join(str(i) for i in range(30))
    assert get_short_value(words, 2) == "0 1 (...) 28 29"
    assert get_short_value("a b c", 2) == "a b c"


def test_textgrad_sends_the_named_prompt_pieces():
    speed = node(2, trainable=True, name="speed")
    llm = ScriptedLLM(["it should be larger", "<IMPROVED_VARIABLE>5</IMPROVED_VARIABLE>"])
    optimizer = TextGrad([speed], llm=llm)
    backward(optimizer, speed * 3, "should be 15")
    optimizer.step()
    gradient, update = llm.requests
    assert gradient["messages"][0]["content"] == textgrad.BACKWARD_SYSTEM_PROMPT
    assert textgrad.GLOSSARY_TEXT_BACKWARD in gradient["messages"][0]["content"]
    assert "<LM_OUTPUT>6</LM_OUTPUT>" in gradient["messages"][1]["content"]
    assert update["messages"][0]["content"] == textgrad.OPTIMIZER_SYSTEM_PROMPT.format(
        new_variable_start_tag="<IMPROVED_VARIABLE>", new_variable_end_tag="</IMPROVED_VARIABLE>"
    )
    assert "it should be larger" in update["messages"][1]["content"]
    assert speed.data == 5
