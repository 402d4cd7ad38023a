"""What opto makes of real replies of a small model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M).

Every reply text here was written by the model, not by us: ``data/small_model_replies.json``
holds replies from the committed quality recording (with the names its prompts showed) and
replies collected with ``benchmarks/quality/collect_replies.py`` for the problems of
``benchmarks/quality/small_model_problems.py``. Keys the model echoed from the prompt must
reach the right variable or be refused; names that are not variables, empty suggestions,
signature changes and repeats must be reported in the next prompt.
"""

from __future__ import annotations

import importlib.util
import json
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
from opto.optimizers.suggestion_feedback import REPEATED, SuggestionFeedback
from opto.optimizers.updates import plan_updates
from opto.trace import bundle, node

ROOT = Path(__file__).resolve().parents[3]
_SPEC = importlib.util.spec_from_file_location(
    "small_model_problems", ROOT / "benchmarks" / "quality" / "small_model_problems.py"
)
_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MODULE)
PROBLEMS = _MODULE.PROBLEMS

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


def test_the_same_refused_input_suggestion_again_is_said_so():
    entry, names = recorded("numeric-opto-2")
    feedback = SuggestionFeedback()
    notes = []
    for _ in range(2):
        resolved = resolved_keys(entry["reply"], names)
        plan = plan_updates(resolved.suggestion, [], None)
        result = StepResult(refused=plan.refused, unknown=plan.unknown)
        notes.append(feedback.note(resolved, result, names))
    assert REPEATED not in notes[0]
    assert (
        f"- int3: an input or constant of the code (#Inputs), not a variable; it cannot be changed ({REPEATED})"
        in notes[1]
    )


# -- end to end through OptoPrime, on the problems the replies were collected for ----------


def test_a_type_label_key_with_an_echoed_value_sets_the_named_variable():
    """Real reply (JSON mode): ``"suggestion": {"float": "a0=8.0"}`` for ``(float) a0=1.0``."""
    entry = REPLIES["linear-json-type-key"]
    [a, b], forward, feedback = PROBLEMS["linear"]()
    optimizer, _, [result] = run_steps([a, b], forward, feedback, [entry["reply"]])
    assert result == {a: 8.0} and a.data == 8.0 and b.data == 2.0
    optimizer.zero_feedback()
    optimizer.backward(forward(), feedback)
    _, note = optimizer.construct_prompt(optimizer.summarize())
    assert "Note: about the keys of your previous suggestion:" in note
    assert "- the key 'float' was read as a0: use the name alone" in note
    assert "The only names you may change are the variables: a0, b0." in note


def test_an_empty_suggestion_is_reported_in_the_next_prompt_and_logged(caplog, capsys):
    """Real reply (no JSON mode): reasoning, then ``"answer": "No changes needed"`` and
    ``"suggestion": {}``, in a fence, with the reasoning string left open."""
    entry = REPLIES["strange-sort-plain-empty"]
    caplog.set_level("INFO", logger="opto")
    parameters, forward, feedback = PROBLEMS["strange_sort"]()
    llm = ScriptedLLM([entry["reply"], entry["reply"]])
    optimizer = OptoPrime(parameters, llm=llm)
    for _ in range(2):
        optimizer.zero_feedback()
        optimizer.backward(forward(), feedback)
        with pytest.warns(UserWarning, match="no suggestion"):
            result = optimizer.step(verbose="output")
        assert dict(result) == {} and result.error
    note_line = next(
        line for line in next_prompt(llm, 1).splitlines() if line.startswith("- your reply")
    )
    assert note_line in ("- your reply suggested no change",) or note_line.startswith(
        "- your reply could not be read:"
    )
    assert "The only names you may change are the variables: __code0." in next_prompt(llm, 1)
    assert "the next prompt's feedback will say" in capsys.readouterr().out
    assert any(r.name == "opto.optimizers.suggestion_feedback" for r in caplog.records)


def test_code_under_its_exact_name_is_applied_and_leaves_no_note():
    """Real reply (JSON mode, temperature 0.8): ``"__code0": "def strange_sort_list(lst): ..."``."""
    entry = REPLIES["strange-sort-json-code"]
    parameters, forward, feedback = PROBLEMS["strange_sort"]()
    llm = ScriptedLLM([entry["reply"], json.dumps({"reasoning": "", "suggestion": {}})])
    optimizer = OptoPrime(parameters, llm=llm)
    optimizer.zero_feedback()
    optimizer.backward(forward(), feedback)
    [code] = parameters
    assert list(optimizer.step()) == [code]
    assert code.data.startswith("def strange_sort_list(lst):") and "[::-1]" in code.data
    optimizer.zero_feedback()
    optimizer.backward(forward(), feedback)
    with pytest.warns(UserWarning, match="no suggestion"):
        optimizer.step()
    assert "Note:" not in next_prompt(llm, 1)


def test_a_refused_signature_change_names_the_signature_to_keep_and_the_repeat():
    """The real fib4 reply (``def fib4(n: int):``) given to a fib4 that takes a second
    parameter: the signature changes, so it is refused, twice."""
    entry = REPLIES["humaneval-trace-opt"]

    @bundle(trainable=True)
    def fib4(n: int, memo: dict | None = None) -> int:
        """The n-th element of the fib4 sequence."""
        return 0

    code = fib4.parameter
    llm = ScriptedLLM([entry["reply"]] * 3)
    optimizer = OptoPrime([code], llm=llm)
    for _ in range(3):
        optimizer.zero_feedback()
        optimizer.backward(fib4(node(8, name="n")), "fib4(8) returned 0, expected 28")
        result = optimizer.step()
        assert dict(result) == {}
    second, third = next_prompt(llm, 1), next_prompt(llm, 2)
    keep = "keep exactly this signature: def fib4(n: int, memo: dict | None=None) -> int:"
    assert keep in second and REPEATED not in second
    assert keep in third and f"({REPEATED})" in third


def test_an_ambiguous_echo_is_refused_again_and_said_so():
    """The JSON-mode fib4 reply (two echoes of __code0 with different values), twice."""
    entry = REPLIES["humaneval-opto"]

    @bundle(trainable=True)
    def fib4(n: int):
        """The n-th element of the fib4 sequence."""
        return None

    code = fib4.parameter
    before = code.data
    llm = ScriptedLLM([entry["reply"]] * 2)
    optimizer = OptoPrime([code], llm=llm)
    for _ in range(2):
        optimizer.zero_feedback()
        optimizer.backward(fib4(node(8, name="n")), "fib4(8) returned None, expected 28")
        optimizer.step()
    assert code.data == before
    optimizer.zero_feedback()
    optimizer.backward(fib4(node(8, name="n")), "fib4(8) returned None, expected 28")
    _, user = optimizer.construct_prompt(optimizer.summarize())
    assert "- __code0: given under 2 keys with different values" in user
    assert f"({REPEATED})" in user and "not names in this problem, ignored:" in user


def test_a_suggestion_for_the_functions_input_is_explained_then_recognised_as_a_repeat():
    """Real reply (no JSON mode, temperature 1.0): ``"suggestion": {"lst0": [1, 2, 3, 4, -5,
    -6]}``, a new value for the test input instead of new code; sent twice."""
    entry = REPLIES["strange-sort-plain-input"]
    parameters, forward, feedback = PROBLEMS["strange_sort"]()
    llm = ScriptedLLM([entry["reply"]] * 3)
    optimizer = OptoPrime(parameters, llm=llm)
    for _ in range(3):
        optimizer.zero_feedback()
        optimizer.backward(forward(), feedback)
        assert optimizer.step().unknown == ["lst0"]
    second, third = next_prompt(llm, 1), next_prompt(llm, 2)
    line = (
        "- lst0: an input or constant of the code (#Inputs), not a variable; it cannot be changed"
    )
    assert line in second and REPEATED not in second
    assert f"{line} ({REPEATED})" in third
    assert "The only names you may change are the variables: __code0." in third


def test_a_suggestion_under_the_exact_name_is_applied_without_a_note():
    """Real reply (JSON mode, temperature 1.0): a new ``instruction0``."""
    entry = REPLIES["instruction-json-exact"]
    [instruction], forward, feedback = PROBLEMS["instruction"]()
    optimizer, _, [result] = run_steps([instruction], forward, feedback, [entry["reply"]])
    assert result == {instruction: "What is 17 * 3? Reply with the number only."}
    optimizer.zero_feedback()
    optimizer.backward(forward(), feedback)
    _, prompt = optimizer.construct_prompt(optimizer.summarize())
    assert "Note:" not in prompt


def test_the_same_value_for_a_renamed_constant_is_recognised_as_a_repeat():
    """Real replies (trace-opt's side of the recording, two steps): ``"int1": 0.64``, then,
    after the constants were made again under new names, ``"int3": 0.64``."""
    feedback = SuggestionFeedback()
    notes = []
    for reply_id in ("numeric-trace-opt-1", "numeric-trace-opt-2"):
        entry, names = recorded(reply_id)
        resolved = resolved_keys(entry["reply"], names)
        plan = plan_updates(resolved.suggestion, [], None)
        notes.append(feedback.note(resolved, StepResult(unknown=plan.unknown), names))
    assert "- int1: an input or constant" in notes[0] and REPEATED not in notes[0]
    assert "- int3: an input or constant" in notes[1] and f"({REPEATED})" in notes[1]
