import json

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import (
    OPRO,
    OPROv2,
    OptimizerPromptSymbolSet2,
    OptimizerPromptSymbolSetJSON,
    OptoPrimeMulti,
    OptoPrimeV2,
    TextGrad,
)
from opto.trace import bundle, node


def backward(optimizer, output, feedback):
    optimizer.zero_feedback()
    optimizer.backward(output, feedback)


def xml_reply(name, value, reasoning="r", tag="variable", name_tag="name", value_tag="value"):
    return (
        f"<reasoning>{reasoning}</reasoning>\n<{tag}>\n<{name_tag}>{name}</{name_tag}>\n"
        f"<{value_tag}>\n{value}\n</{value_tag}>\n</{tag}>"
    )


@bundle(trainable=True)
def double(x):
    """Doubles x."""
    return x * 2


DOUBLE_SOURCE = double.parameter.data  # tests that rewrite the code start from this


def test_optoprime_v2_prompt_and_xml_reply():
    double.parameter.set_data(DOUBLE_SOURCE)
    x = node(3, trainable=True, name="x", description="positive")
    code = double.parameter
    new_code = 'def double(x):\n    """Doubles x."""\n    return x + x'
    llm = ScriptedLLM([xml_reply("x0", "4") + "\n" + xml_reply(code.py_name, new_code)])
    optimizer = OptoPrimeV2([x, code], llm=llm, memory_size=2)
    backward(optimizer, double(x) + 1, "should be 9")
    result = optimizer.step()
    assert result == {x: 4, code: new_code}
    system, user = (m["content"] for m in llm.requests[0]["messages"])
    assert (
        '<variable name="x0" type="int">\n<value>\n3\n</value>\n<constraint>\npositive\n</constraint>\n</variable>'
        in user
    )
    assert f'<variable name="{code.py_name}" type="code">' in user
    assert (
        "# Instruction\n" in user
        and "# Feedback\nshould be 9" in user
        and "#Constraints" not in user
    )
    assert user.endswith(
        f"What are your suggestions on variables {code.py_name}, x0?\n\nYour response:\n"
    )
    assert "<reasoning>" in system and "response_format" not in llm.requests[0]
    assert llm.requests[0]["max_tokens"] == 8192
    double.parameter.set_data(DOUBLE_SOURCE)


def test_optoprime_v2_truncates_long_inputs_and_keeps_code_indentation_in_memory():
    double.parameter.set_data(DOUBLE_SOURCE)
    code = double.parameter
    llm = ScriptedLLM([xml_reply("nothing", "1"), xml_reply("nothing", "1")])
    optimizer = OptoPrimeV2([code], llm=llm, memory_size=2, initial_var_char_limit=10)
    backward(optimizer, double("y" * 50), "too long")
    optimizer.step()
    first = llm.requests[0]["messages"][1]["content"]
    assert "yyyyyyyyyy...(skipped due to length limit)" in first
    backward(optimizer, double("z"), "fine")
    optimizer.step()
    second = llm.requests[1]["messages"][1]["content"]
    assert "<round 1>" in second and '    """Doubles x."""\n    return x * 2' in second


def test_optoprime_v2_symbol_sets():
    x = node(1, trainable=True, name="x")
    short = ScriptedLLM(
        [xml_reply("x0", "2", tag="var", value_tag="data").replace("reasoning", "reason")]
    )
    optimizer = OptoPrimeV2([x], llm=short, optimizer_prompt_symbol_set=OptimizerPromptSymbolSet2())
    backward(optimizer, x + 1, "bigger")
    assert optimizer.step() == {x: 2}
    assert (
        '<var name="x0" type="int">\n<data>\n1\n</data>'
        in short.requests[0]["messages"][1]["content"]
    )
    as_json = ScriptedLLM([json.dumps({"reasoning": "r", "suggestion": {"x0": 5}})])
    optimizer = OptoPrimeV2(
        [x], llm=as_json, optimizer_prompt_symbol_set=OptimizerPromptSymbolSetJSON()
    )
    backward(optimizer, x + 1, "bigger")
    assert optimizer.step() == {x: 5}
    assert as_json.requests[0]["response_format"] == {"type": "json_object"}


def test_opro_shows_the_history_of_values_and_feedback():
    x = node(1, trainable=True, name="x")
    llm = ScriptedLLM(
        [json.dumps({"suggestion": {"x0": 2}}), json.dumps({"suggestion": {"x0": 3}})]
    )
    optimizer = OPRO([x], llm=llm)
    backward(optimizer, x * 10, "too small: 10")
    assert optimizer.step() == {x: 2}
    backward(optimizer, x * 10, "still small: 20")
    optimizer.step()
    user = llm.requests[1]["messages"][1]["content"]
    assert user.startswith("\nBelow are some example variables and their feedbacks.")
    assert user.index('"x0": 1') < user.index('"x0": 2') and "still small: 20" in user
    assert "Come up with a new variable in accordance to feedback." in user
    assert '"suggestion"' in llm.requests[0]["messages"][0]["content"]


def test_oprov2_is_consistent_between_what_it_shows_and_asks():
    prompt = node("Be brief.", trainable=True, name="prompt")
    reply = xml_reply("prompt0", "Be very brief.", tag="solution")
    llm = ScriptedLLM([reply])
    optimizer = OPROv2([prompt], llm=llm)
    backward(optimizer, prompt + " Why?", "too long")
    assert optimizer.step() == {prompt: "Be very brief."}
    system, user = (m["content"] for m in llm.requests[0]["messages"])
    assert "# Problem Context\nPropose a new solution" in user
    assert '<solution name="prompt0" type="str">' in user and "# Feedback\ntoo long" in user
    assert user.endswith("What are your revised solutions on prompt0?\n\nYour response:\n")
    assert "# Problem Context" in system and "<solution>" in system


def test_optoprime_multi_generates_candidates_concurrently_and_selects():
    x = node(1, trainable=True, name="x")
    replies = [json.dumps({"suggestion": {"x0": value}}) for value in (5, 6, 7)]
    llm = ScriptedLLM([*replies, "Candidate 2 is best: 2"])
    optimizer = OptoPrimeMulti([x], llm=llm, num_responses=3)
    backward(optimizer, x + 1, "larger")
    result = optimizer.step()
    temperatures = sorted(request["temperature"] for request in llm.requests[:3])
    assert temperatures == [0.0, 0.5, 1.0]
    chosen = json.loads(optimizer.candidates[1])["suggestion"]["x0"]
    assert result == {x: chosen} and "Candidate 3:" in llm.requests[3]["messages"][1]["content"]


@pytest.mark.parametrize(
    "technique", ["self_refinement", "iterative_alternatives", "multi_experts"]
)
def test_optoprime_multi_other_generation_techniques(technique):
    x = node(1, trainable=True, name="x")
    replies = [json.dumps({"suggestion": {"x0": value}}) for value in (5, 5, 9)]
    llm = ScriptedLLM(replies)
    optimizer = OptoPrimeMulti(
        [x],
        llm=llm,
        num_responses=3,
        generation_technique=technique,
        selection_technique="majority",
    )
    backward(optimizer, x + 1, "larger")
    assert optimizer.step() == {x: 5}
    systems = [r["messages"][0]["content"] for r in llm.requests]
    if technique == "multi_experts":
        assert all("You are a" in s for s in systems)
    else:
        assert "You are a" not in systems[0] and (
            "previous answer" in systems[1] or "different" in systems[1]
        )


def test_optoprime_multi_custom_selector_and_moa():
    x = node(1, trainable=True, name="x")

    # candidates are requested concurrently: each reply depends on its request, not on
    # which thread reached the script first (that order made this test flaky)
    def by_temperature(request):
        return json.dumps({"suggestion": {"x0": 2 if request["temperature"] == 1.0 else 3}})

    llm = ScriptedLLM([by_temperature, by_temperature])
    picked = OptoPrimeMulti([x], llm=llm, num_responses=2, selector=lambda c: c[0])
    backward(picked, x + 1, "larger")
    assert picked.step() == {x: 2}
    llm = ScriptedLLM(
        [
            *(json.dumps({"suggestion": {"x0": v}}) for v in (4, 6)),
            json.dumps({"suggestion": {"x0": 5}}),
        ]
    )
    moa = OptoPrimeMulti([x], llm=llm, num_responses=2, selection_technique="moa")
    backward(moa, x + 1, "larger")
    assert moa.step() == {x: 5}
    with pytest.raises(ValueError, match="generation_technique"):
        OptoPrimeMulti([x], llm=llm, generation_technique="magic")


def test_textgrad_makes_one_call_per_edge_then_one_update_per_parameter():
    a = node(2, trainable=True, name="a")
    b = node(3, trainable=True, name="b")
    total = a * b + a
    llm = ScriptedLLM(
        [
            "grad for multiply0",
            "grad for a via add0",
            "grad for a via multiply0",
            "grad for b via multiply0",
            "combined for a",
            "<IMPROVED_VARIABLE>4</IMPROVED_VARIABLE>",
            "<IMPROVED_VARIABLE>five</IMPROVED_VARIABLE>",
        ]
    )
    optimizer = TextGrad([a, b], llm=llm, log=True)
    backward(optimizer, total, "should be 24")
    result = optimizer.step()
    kinds = [call["kind"] for call in optimizer.log[-1]["calls"]]
    assert (
        kinds.count("gradient") == 4 and kinds.count("reduce") == 1 and kinds.count("update") == 2
    )
    assert result == {a: 4} and "expected an int" in result.refused["b0"]
    first = llm.requests[0]["messages"][1]["content"]
    assert "<FEEDBACK>should be 24</FEEDBACK>" in first and "<LM_OUTPUT>8</LM_OUTPUT>" in first
    assert isinstance(optimizer.call_llm("s", "u") if llm.remaining else "", str)
