"""Trace programs override OptoPrime's methods and prompt pieces; opto must use the overrides.

Each test is a small program of the kind Trace users write: a subclass changes one method
or one class attribute, and what the LLM receives (or what is applied) changes accordingly.
"""

import json

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import OptoPrime
from opto.optimizers.optoprime import (
    FunctionFeedback,
    ProblemInstance,
    get_fun_name,
    node_to_function_feedback,
    repr_function_call,
)
from opto.trace import bundle, node


@bundle()
def area(width, height):
    """Area of a rectangle."""
    return width * height


def reply(suggestion, reasoning="r"):
    return json.dumps({"reasoning": reasoning, "answer": "", "suggestion": suggestion})


def one_step(optimizer, output, feedback="the area should be 12"):
    optimizer.zero_feedback()
    optimizer.backward(output, feedback)
    return optimizer.step()


def rectangle():
    width = node(2, trainable=True, name="width", description="a positive int")
    return width, area(width, node(3, name="height"))


def sent(llm, index=0):
    system, user = (m["content"] for m in llm.requests[index]["messages"])
    return system, user


def test_repr_node_value_override_changes_every_value_section():
    class Labelled(OptoPrime):
        @staticmethod
        def repr_node_value(node_dict):
            return "\n".join(f"{name} := {data!r}" for name, (data, _) in node_dict.items())

    width, out = rectangle()
    llm = ScriptedLLM([reply({"width0": 4})])
    one_step(Labelled([width], llm=llm), out)
    _, user = sent(llm)
    assert "#Variables\nwidth0 := 2\n" in user
    assert "height0 := 3" in user and "area0 := 6" in user
    assert "(int) width0=2" not in user


def test_repr_node_constraint_override_changes_constraints():
    class Quoted(OptoPrime):
        @staticmethod
        def repr_node_constraint(node_dict):
            return "\n".join(f"{name} must be: {desc}" for name, (_, desc) in node_dict.items())

    width, out = rectangle()
    llm = ScriptedLLM([reply({"width0": 4})])
    one_step(Quoted([width], llm=llm), out)
    assert "#Constraints\nwidth0 must be: a positive int\n" in sent(llm)[1]


def test_problem_instance_override_edits_a_section():
    class WithUnits(OptoPrime):
        def problem_instance(self, summary, mask=None):
            problem = super().problem_instance(summary, mask)
            problem.feedback = problem.feedback + " (units: square metres)"
            return problem

    width, out = rectangle()
    llm = ScriptedLLM([reply({"width0": 4})])
    one_step(WithUnits([width], llm=llm), out)
    assert "#Feedback\nthe area should be 12 (units: square metres)" in sent(llm)[1]


def test_summarize_override_is_what_the_prompt_shows():
    class Louder(OptoPrime):
        def summarize(self):
            summary = super().summarize()
            summary.user_feedback = summary.user_feedback.upper()
            return summary

    width, out = rectangle()
    llm = ScriptedLLM([reply({"width0": 4})])
    one_step(Louder([width], llm=llm, prompt_token_budget=10_000), out)
    assert "#Feedback\nTHE AREA SHOULD BE 12" in sent(llm)[1]


def test_prompt_pieces_overridden_on_the_class_are_sent():
    class Terse(OptoPrime):
        representation_prompt = "You tune numbers.\n"
        output_format_prompt = 'Answer {"suggestion": {name: value}} only.\n'
        user_prompt_template = "PROBLEM:\n{problem_instance}\n"
        final_prompt = "ANSWER NOW:\n"

    width, out = rectangle()
    llm = ScriptedLLM([reply({"width0": 4})])
    one_step(Terse([width], llm=llm), out)
    system, user = sent(llm)
    assert system == 'You tune numbers.\nAnswer {"suggestion": {name: value}} only.\n'
    assert user.startswith("PROBLEM:\n\n#Instruction\n") and user.endswith("ANSWER NOW:\n")
    assert width.data == 4


def test_output_format_prompt_set_on_an_instance_is_sent():
    width, out = rectangle()
    llm = ScriptedLLM([reply({"width0": 4})])
    optimizer = OptoPrime([width], llm=llm)
    optimizer.output_format_prompt = "\nReply in JSON with a suggestion.\n"
    one_step(optimizer, out)
    assert sent(llm)[0] == OptoPrime.representation_prompt + "\nReply in JSON with a suggestion.\n"


def test_extract_llm_suggestion_override_reads_a_custom_reply():
    class KeyValue(OptoPrime):
        def extract_llm_suggestion(self, response):
            name, _, value = response.strip().partition("=")
            return {name.strip(): value.strip()}

    width, out = rectangle()
    llm = ScriptedLLM(["width0 = 4"])
    result = one_step(KeyValue([width], llm=llm), out)
    assert result == {width: 4} and width.data == 4


def test_construct_update_dict_override_changes_what_is_applied():
    class Clamped(OptoPrime):
        def construct_update_dict(self, suggestion):
            update = super().construct_update_dict(suggestion)
            return {parameter: min(value, 5) for parameter, value in update.items()}

    width, out = rectangle()
    one_step(Clamped([width], llm=ScriptedLLM([reply({"width0": 40})])), out)
    assert width.data == 5


def test_call_llm_override_sees_both_prompts_and_its_reply_is_used():
    seen = []

    class Recorded(OptoPrime):
        def call_llm(self, system_prompt, user_prompt, verbose=False, max_tokens=4096):
            seen.append((system_prompt, user_prompt))
            return reply({"width0": 6})

    width, out = rectangle()
    one_step(Recorded([width], llm=ScriptedLLM([])), out)
    assert width.data == 6
    assert seen[0][0].startswith(OptoPrime.representation_prompt)
    assert "#Feedback\nthe area should be 12" in seen[0][1]


def test_replace_symbols_and_prompt_symbols_rename_sections_but_not_values():
    width = node("#Variables are fine", trainable=True, name="note")
    llm = ScriptedLLM([reply({})])
    optimizer = OptoPrime([width], llm=llm, prompt_symbols={"variables": "#Knobs"})
    assert optimizer.replace_symbols("see #Variables", {"variables": "#Knobs"}) == "see #Knobs"
    with pytest.warns(UserWarning, match="no suggestion"):
        one_step(optimizer, width + "!", "fine")
    system, user = sent(llm)
    assert "#Knobs\n(str) note0=#Variables are fine" in user, "data is not rewritten"
    assert "#Knobs" in system and "#Variables" not in system


def test_construct_prompt_previews_without_changing_memory():
    width, out = rectangle()
    llm = ScriptedLLM([reply({"width0": 4})])
    optimizer = OptoPrime([width], llm=llm, memory_size=3)
    optimizer.zero_feedback()
    optimizer.backward(out, "the area should be 12")
    summary = optimizer.summarize()
    assert isinstance(summary, FunctionFeedback)
    assert set(summary.variables) == {"width0"} and set(summary.inputs) == {"height0"}
    preview = optimizer.construct_prompt(summary)
    optimizer.construct_prompt(summary)
    assert len(optimizer.memory) == 0, "Trace recorded memory on every preview"
    optimizer.step()
    assert sent(llm) == preview
    assert len(optimizer.memory) == 1


def test_summary_log_keeps_the_problem_instance_and_the_summary():
    width, out = rectangle()
    optimizer = OptoPrime([width], llm=ScriptedLLM([reply({"width0": 4})]))
    one_step(optimizer, out)
    entry = optimizer.summary_log[-1]
    assert isinstance(entry["problem_instance"], ProblemInstance)
    assert isinstance(entry["summary"], FunctionFeedback)
    assert entry["problem_instance"].variables == "(int) width0=2"
    assert "#Variables\n(int) width0=2" in optimizer.log[-1]["user_prompt"]


def test_function_feedback_of_a_parameter_as_the_tutorial_prints_it():
    width, out = rectangle()
    total = out + 1
    total.backward("the area should be 12")
    for _child, graphs in width.feedback.items():
        feedback = node_to_function_feedback(graphs[0])
        assert feedback.graph == [
            (1, "area0 = area(width=width0, height=height0)"),
            (2, "add0 = add(x=area0, y=int0)"),
        ]
        assert feedback.roots == {
            "width0": (2, "a positive int"),
            "height0": (3, None),
            "int0": (1, None),
        }
        assert feedback.others["area0"][0] == 6 and feedback.output["add0"][0] == 7
        assert feedback.documentation["area"] == "Area of a rectangle."
        assert feedback.user_feedback == "the area should be 12"


def test_problem_instance_is_built_and_printed_as_in_trace():
    problem = ProblemInstance(
        instruction="Make it 12.",
        code="y = f(x=a)",
        documentation="[f] doubles",
        variables="(int) a=6",
        inputs="",
        others="",
        outputs="(int) y=12",
        feedback="good",
        constraints="(int) a: positive",
    )
    text = str(problem)
    assert text.startswith("\n#Instruction\nMake it 12.\n\n#Code\ny = f(x=a)\n")
    assert "#Variables\n(int) a=6\n\n#Constraints\n(int) a: positive\n" in text
    assert text.endswith("#Feedback\ngood\n") and repr(problem) == text
    assert "{constraints}" in ProblemInstance.problem_template


def test_helpers_name_functions_and_render_calls():
    @bundle()
    def constant():
        return 3

    width, out = rectangle()
    assert get_fun_name(out) == "area" and get_fun_name(width) == "width"
    assert repr_function_call(out) == "area0 = area(width=width0, height=height0)"
    assert repr_function_call(constant()) == "constant0 = constant()", "Trace printed 'constan)'"


def test_a_reply_that_is_not_json_gives_an_empty_result_not_a_crash():
    width, _ = rectangle()
    optimizer = OptoPrime([width], llm=ScriptedLLM([]))
    assert optimizer.extract_llm_suggestion("no idea", return_only_suggestion=False) == {
        "reasoning": "",
        "variables": {},
    }
    assert optimizer.extract_llm_suggestion('{"reasoning": "r", "width0": 5}') == {"width0": 5}
