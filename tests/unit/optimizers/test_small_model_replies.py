"""What opto makes of real replies of a small model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M).

Every reply text here was written by the model, not by us: ``data/small_model_replies.json``
holds replies from the committed quality recording (with the names its prompts showed) and
replies collected with ``benchmarks/quality/collect_replies.py`` for the problems of
``benchmarks/quality/small_model_problems.py``. Keys the model echoed from the prompt must
reach the right variable or be refused; names that are not variables, empty suggestions,
signature changes and repeats must be reported in the next prompt.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import OptoPrime
from opto.optimizers.key_resolution import (
    PromptNames,
    code_outside_suggestion,
    resolve_suggestion,
)
from opto.optimizers.optimizer import StepResult
from opto.optimizers.parsing import parse_json_reply
from opto.optimizers.suggestion_feedback import SuggestionFeedback
from opto.optimizers.updates import plan_updates
from opto.trace import bundle, node

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks" / "quality"))

REPLIES = {
    entry["id"]: entry
    for entry in json.loads(
        (Path(__file__).parent / "data" / "small_model_replies.json").read_text()
    )
}


def recorded(reply_id: str) -> tuple[dict, PromptNames]:
    """A recorded reply and the names its prompt showed."""
    entry = REPLIES[reply_id]
    names = PromptNames(
        variables=tuple(entry["variables"]),
        inputs=frozenset(entry["inputs"]),
        computed=frozenset(entry["computed"]),
        code_variables=tuple(entry["code_variables"]),
    )
    return entry, names


def resolved_keys(reply: str, names: PromptNames):
    suggestion = parse_json_reply(reply).suggestion
    return resolve_suggestion({**code_outside_suggestion(reply), **suggestion}, names)


def chat(reply: str) -> dict:
    return {"choices": [{"message": {"role": "assistant", "content": reply}}]}


def run_steps(parameters, make_output, feedback, replies):
    """Steps of OptoPrime on scripted real replies; returns (optimizer, llm, results)."""
    llm = ScriptedLLM(replies)
    optimizer = OptoPrime(parameters, llm=llm)
    results = []
    for _ in replies:
        optimizer.zero_feedback()
        optimizer.backward(make_output(), feedback)
        results.append(optimizer.step())
    return optimizer, llm, results


def next_prompt(llm: ScriptedLLM, index: int) -> str:
    return llm.requests[index]["messages"][1]["content"]


# -- keys echoed from the prompt -----------------------------------------------------------


def test_code_under_a_code_key_with_the_variable_line_echoed_reaches_the_code():
    """Real reply: ``"suggestion": {"code": "(code) __code0:def fib4(n: int):\\n ..."}``."""
    entry, names = recorded("humaneval-trace-opt")
    resolved = resolved_keys(entry["reply"], names)
    assert resolved.renamed == {"code": "__code0"} and not resolved.refused
    assert resolved.suggestion["__code0"].startswith("def fib4(n: int):\n    if n == 0:")


def test_the_same_reply_applies_to_a_trainable_fib4():
    entry, _ = recorded("humaneval-trace-opt")

    @bundle(trainable=True)
    def fib4(n: int):
        """The n-th element of the fib4 sequence."""
        return None

    code = fib4.parameter
    optimizer, _, [result] = run_steps(
        [code],
        lambda: fib4(node(8, name="n")),
        "fib4(8) returned None, expected 28",
        [entry["reply"]],
    )
    assert result[code].startswith("def fib4(n: int):") and "(code)" not in code.data
    assert list(optimizer.log[-1]["suggestion"]) == ["code"]  # the log keeps the key as written


def test_a_variable_line_echoed_twice_with_different_values_is_refused_not_guessed():
    """Real reply (JSON mode): keys ``"(code) __code0:def fib4(n: int):"`` and ``"(code)
    __code0: The code should start with:"`` with different values, and code lines as keys."""
    entry, names = recorded("humaneval-opto")
    resolved = resolved_keys(entry["reply"], names)
    assert "__code0" not in resolved.suggestion
    assert "given under 2 keys with different values" in resolved.refused["__code0"]
    assert not set(resolved.suggestion) & set(names.all)  # the code lines stay unknown
    plan = plan_updates(resolved.suggestion, [], None)
    assert not plan.accepted


def test_code_written_next_to_the_suggestion_goes_to_the_sole_code_variable():
    """Real reply: a top-level ``"code": "def choose_shot(board): ..."`` beside
    ``"suggestion": {"board0": [...]}`` (the board is an input)."""
    entry, names = recorded("battleship-trace-opt")
    resolved = resolved_keys(entry["reply"], names)
    assert resolved.suggestion["__code0"].startswith("def choose_shot(board):")
    assert resolved.renamed == {"code": "__code0"}
    assert names.section_of("board0") == "input" and "board0" in resolved.suggestion


def test_code_next_to_the_suggestion_is_not_given_to_one_of_two_code_variables():
    entry, names = recorded("battleship-trace-opt")
    two = PromptNames(
        variables=("__code0", "__code1"),
        inputs=names.inputs,
        code_variables=("__code0", "__code1"),
    )
    resolved = resolved_keys(entry["reply"], two)
    assert "__code0" not in resolved.suggestion and "__code1" not in resolved.suggestion
    assert "code" in resolved.suggestion  # left as written: reported as not a name


# -- names that are not variables ----------------------------------------------------------


@pytest.mark.parametrize(
    ("reply_id", "name"),
    [("numeric-opto-2", "int3"), ("bbh-opto", "request1"), ("numeric-trace-opt-1", "int1")],
)
def test_a_suggestion_for_an_input_is_named_in_the_next_prompt(reply_id, name):
    entry, names = recorded(reply_id)
    resolved = resolved_keys(entry["reply"], names)
    plan = plan_updates(resolved.suggestion, [], None)
    assert plan.unknown == [name]
    result = StepResult(refused=plan.refused, unknown=plan.unknown)
    note = SuggestionFeedback().note(resolved, result, names)
    assert f"- {name}: an input or constant of the code (#Inputs), not a variable" in note
    assert f"variables: {', '.join(names.variables)}." in note
