import copy
import json
from pathlib import Path

import pytest

from opto.llm import DummyLLM, InvalidRequestError, ScriptedLLM
from opto.optimizers import Optimizer, OptoPrime, SuggestionExtractionError
from opto.trace import GRAPH, ExecutionError, bundle, node, operators

GOLDEN = Path(__file__).parent / "golden"


def answer(suggestion, reasoning="because"):
    return json.dumps({"reasoning": reasoning, "answer": "", "suggestion": suggestion})


@bundle()
def scale(a, b):
    """Scales a by len(b)."""
    return a * len(b)


def scale_problem():
    GRAPH.clear()
    x = node(3, trainable=True, name="x", description="a positive int")
    y = node("hi", name="y")
    return x, scale(x, y) + 1


def run_step(optimizer, output, feedback):
    optimizer.zero_feedback()
    optimizer.backward(output, feedback)
    return optimizer.step()


def test_prompts_match_the_golden_files():
    x, z = scale_problem()
    llm = ScriptedLLM([answer({"x0": 5})])
    result = run_step(OptoPrime([x], llm=llm), z, "should be 10")
    system, user = (m["content"] for m in llm.requests[0]["messages"])
    assert system == (GOLDEN / "optoprime_system.txt").read_text()
    assert user == (GOLDEN / "optoprime_user.txt").read_text()
    assert result == {x: 5} and x.data == 5
    assert llm.requests[0]["response_format"] == {"type": "json_object"}
    assert llm.requests[0]["max_tokens"] == 4096


def test_user_prompt_layout_is_trace_compatible():
    """Trace's prompt for the same program differs only in operator documentation."""
    ours = (GOLDEN / "optoprime_user.txt").read_text()
    traces = (GOLDEN / "trace_opt_user_layout.txt").read_text()
    ours_without_docs = ours.split("#Documentation\n")[0] + ours.split("\n\n#Variables")[1]
    traces_without_docs = traces.split("#Documentation\n")[0] + traces.split("\n\n#Variables")[1]
    assert ours_without_docs.replace("(int) x0: a positive int", "") == traces_without_docs


def test_the_same_program_gives_the_same_prompt():
    prompts = []
    for _ in range(2):
        x, z = scale_problem()
        llm = ScriptedLLM([answer({})])
        with pytest.warns(UserWarning, match="no suggestion"):
            run_step(OptoPrime([x], llm=llm), z, "fb")
        prompts.append(llm.requests[0]["messages"])
    assert prompts[0] == prompts[1]


def test_memory_shows_past_steps_and_keeps_the_problem():
    x, z = scale_problem()
    llm = ScriptedLLM([answer({"x0": 5}), answer({"x0": 6})])
    optimizer = OptoPrime([x], llm=llm, memory_size=2, include_example=True)
    run_step(optimizer, z, "should be 10")
    assert "Below are some variables" not in llm.requests[0]["messages"][1]["content"]
    z = scale(x, node("hi")) + 1
    run_step(optimizer, z, "should be 12")
    second = llm.requests[1]["messages"][1]["content"]
    memory = second.split(
        "Below are some variables and their feedbacks you received in the past.\n\n"
    )[1]
    assert json.loads(memory.split("\n\n\nYour response:")[0]) == {
        "variables": {"x0": 3},
        "feedback": "should be 10",
    }
    assert "should be 12" in second and "(int) x0=5" in second, "the current problem is kept"
    example = second.split("Now you see problem instance")[0]
    reply = example.split("Your response:\n")[1]
    assert json.loads(reply)["suggestion"] == {"a": 14}, "the few-shot reply is valid JSON"


def test_json_keys_change_the_format_and_do_not_leak():
    x, z = scale_problem()
    llm = ScriptedLLM([json.dumps({"thinking": "t", "changes": {"x0": 4}})])
    custom = OptoPrime(
        [x], llm=llm, json_keys={"reasoning": "thinking", "answer": None, "suggestion": "changes"}
    )
    assert run_step(custom, z, "fb") == {x: 4}
    system = llm.requests[0]["messages"][0]["content"]
    assert '"thinking": <Your reasoning>' in system and '"answer"' not in system
    assert "If no changes are needed, just output TERMINATE." in system
    assert OptoPrime([x], llm=llm).json_keys == {
        "reasoning": "reasoning",
        "answer": "answer",
        "suggestion": "suggestion",
    }


def test_prompt_symbols_mask_and_highlight():
    x, z = scale_problem()
    llm = ScriptedLLM([answer({})])
    optimizer = OptoPrime(
        [x], llm=llm, prompt_symbols={"variables": "#Params"}, highlight_variables=True
    )
    optimizer.zero_feedback()
    optimizer.backward(z, "fb")
    with pytest.warns(UserWarning, match="no suggestion"):
        optimizer.step(mask=["#Others"])
    system, user = (m["content"] for m in llm.requests[0]["messages"])
    assert "#Params\n(int) x0=3" in user and "#Variables" not in user
    assert "#Params" in system and "#Variables" not in system
    assert "#Others\n\n" in user and "scale0=6" not in user.split("#Others")[1].split("#Outputs")[0]
    assert user.endswith("What are your suggestions on variables x0?\n\nYour response:\n")


def test_refused_values_change_nothing_and_are_reported_next_time():
    x, z = scale_problem()
    llm = ScriptedLLM([answer({"x0": "4.5", "y0": 1}), answer({"x0": 4})])
    optimizer = OptoPrime([x], llm=llm)
    result = run_step(optimizer, z, "should be 10")
    assert result == {} and x.data == 3
    assert "refused rather than truncated" in result.refused["x0"] and result.unknown == ["y0"]
    assert optimizer.log[-1]["refused"] == result.refused
    z = scale(x, node("hi")) + 1
    assert run_step(optimizer, z, "should be 10") == {x: 4}
    feedback = llm.requests[1]["messages"][1]["content"].split("#Feedback\n")[1]
    assert "not applied" in feedback and "x0: expected an int" in feedback and "y0" in feedback


def test_repair_asks_once_more_with_the_reasons():
    x, z = scale_problem()
    llm = ScriptedLLM([answer({"x0": "many"}), answer({"x0": 7})])
    optimizer = OptoPrime([x], llm=llm, repair_attempts=1)
    assert run_step(optimizer, z, "fb") == {x: 7}
    repair = llm.requests[1]["messages"]
    assert repair[-2]["role"] == "assistant" and "x0: expected an int" in repair[-1]["content"]


def test_terminate_changes_nothing():
    x, z = scale_problem()
    result = run_step(OptoPrime([x], llm=ScriptedLLM(["TERMINATE"])), z, "fine")
    assert result == {} and result.terminated and x.data == 3


def test_a_reply_without_suggestion_is_a_warning_or_an_error():
    x, z = scale_problem()
    with pytest.warns(UserWarning, match="no suggestion"):
        result = run_step(OptoPrime([x], llm=ScriptedLLM(["I am not sure."])), z, "fb")
    assert result == {} and result.error
    x, z = scale_problem()
    strict = OptoPrime([x], llm=ScriptedLLM(["I am not sure."]), ignore_extraction_error=False)
    with pytest.raises(SuggestionExtractionError):
        run_step(strict, z, "fb")
    assert x.data == 3


def test_json_mode_falls_back_when_the_backend_refuses_it():
    x, z = scale_problem()
    llm = ScriptedLLM([InvalidRequestError("response_format not supported"), answer({"x0": 9})])
    assert run_step(OptoPrime([x], llm=llm), z, "fb") == {x: 9}
    assert "response_format" not in llm.requests[-1]

    def plain(messages, max_tokens):
        return answer({"x0": 8})

    x, z = scale_problem()
    assert run_step(OptoPrime([x], llm=DummyLLM(plain)), z, "fb") == {x: 8}


def test_bypassing_proposes_without_writing():
    x, z = scale_problem()
    optimizer = OptoPrime([x], llm=ScriptedLLM([answer({"x0": 5})]))
    optimizer.zero_feedback()
    optimizer.backward(z, "fb")
    assert optimizer.step(bypassing=True) == {x: 5} and x.data == 3


def test_error_nodes_appear_with_their_annotated_code():
    @bundle(trainable=True)
    def parse(text):
        value = int(text)
        return value

    llm = ScriptedLLM(
        [answer({parse.parameter.py_name: "def parse(text):\n    return int(float(text))\n"})]
    )
    optimizer = OptoPrime(parse.parameters(), llm=llm)
    with pytest.raises(ExecutionError) as caught:
        parse("2.5")
    error = caught.value.exception_node
    optimizer.zero_feedback()
    optimizer.backward(error, error.create_feedback("full"))
    optimizer.step()
    user = llm.requests[0]["messages"][1]["content"]
    assert f"#Outputs\n(str) {error.py_name}=(ValueError) invalid literal" in user
    assert "value = int(text)  <--- (ValueError)" in user.split("\n#Feedback\n")[1]
    assert f"(code) {parse.parameter.py_name}:def parse(text):" in user
    assert parse("2.5").data == 2


def test_zero_argument_and_generator_bundles_render_in_code():
    weight = node(2, trainable=True, name="weight")

    @bundle(allow_external_dependencies=True)
    def constant():
        return weight.data * 2

    @bundle()
    def numbers(n):
        yield from range(n)

    out = constant() + operators.len_(operators.to_list(numbers(weight)))
    llm = ScriptedLLM([answer({"weight0": 3})])
    assert run_step(OptoPrime([weight], llm=llm), out, "fb") == {weight: 3}
    user = llm.requests[0]["messages"][1]["content"]
    assert "constant0 = constant()\n" in user and "(int) constant0=4" in user
    assert "numbers0 = numbers(n=weight0)" in user
    assert (
        "(generator) numbers0=<generator object test_zero_argument_and_generator_bundles_render_in_code.<locals>.numbers>"
        in user
    )


def test_hidden_parameters_are_listed_as_variables():
    prompt = node("Be brief.", trainable=True, name="prompt")

    @bundle(allow_external_dependencies=True)
    def ask(question):
        return prompt.data + " " + question

    llm = ScriptedLLM([answer({"prompt0": "Be very brief."})])
    assert run_step(OptoPrime([prompt], llm=llm), ask("Why?"), "too long") == {
        prompt: "Be very brief."
    }
    assert "(str) prompt0=Be brief." in llm.requests[0]["messages"][1]["content"]


def test_token_budget_keeps_variables_outputs_and_feedback():
    p = node("seed", trainable=True, name="p")
    out = p
    for _ in range(10_000):
        out = out + "x"
    llm = ScriptedLLM([answer({})])
    optimizer = OptoPrime([p], llm=llm, prompt_token_budget=3000)
    with pytest.warns(UserWarning, match="no suggestion"):
        run_step(optimizer, out, "the text is too long")
    user = llm.requests[0]["messages"][1]["content"]
    from opto.optimizers.tokens import count_tokens

    assert count_tokens(user) <= 3000
    assert "(str) p0=seed" in user and f"{out.py_name}=" in user and "the text is too long" in user
    assert "intermediate values further from the outputs are omitted" in user


def test_optimizer_parameters_are_deduplicated_and_unknown_arguments_refused():
    x = node(1, trainable=True)
    assert OptoPrime([x, x], llm=ScriptedLLM([])).parameters == [x]
    with pytest.raises(TypeError, match="config_list"):
        OptoPrime([x], llm=ScriptedLLM([]), config_list=[])
    with pytest.raises(TypeError, match="ParameterNode"):
        Optimizer([node(1)])
    with pytest.raises(ValueError, match="at least one"):
        Optimizer([])


def test_deepcopy_shares_parameters_and_llm_and_state_round_trips(tmp_path):
    x, z = scale_problem()
    llm = ScriptedLLM([answer({"x0": 5})])
    optimizer = OptoPrime([x], llm=llm, memory_size=3)
    run_step(optimizer, z, "should be 10")
    duplicate = copy.deepcopy(optimizer)
    assert duplicate.parameters[0] is x and duplicate.llm is llm
    assert duplicate.memory is not optimizer.memory and len(duplicate.memory) == 1
    optimizer.save(tmp_path / "state.json")
    fresh = OptoPrime([x], llm=llm, memory_size=3)
    fresh.load(tmp_path / "state.json")
    assert list(fresh.memory) == list(optimizer.memory)


def test_no_llm_is_needed_to_build_an_optimizer(monkeypatch):
    for name in (
        "OPTO_LLM_MODEL",
        "TRACE_LITELLM_MODEL",
        "DEFAULT_LITELLM_MODEL",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    optimizer = OptoPrime([node(1, trainable=True)])
    assert optimizer.parameters


def test_render_opt_step_shows_the_step():
    from opto.trace.utils import contain, render_opt_step

    x, z = scale_problem()
    optimizer = OptoPrime([x], llm=ScriptedLLM([answer({"x0": "4.5"}, reasoning="try <4.5>")]))
    run_step(optimizer, z, "should be 10")
    view = render_opt_step(0, optimizer)
    assert "Refused values" in view.html and "try &lt;4.5&gt;" in view.html
    assert "#Feedback\nshould be 10" in str(view)
    assert "Problem shown" not in render_opt_step(-1, optimizer, no_trace_graph=True).html
    assert contain([x], x) and not contain([node(3)], x)


def test_the_step_log_counts_the_calls_the_cache_answered():
    """The step log read a "cached" field the usage record does not have (it is `cache_hit`),
    so a step answered from the cache looked like a paid one."""
    reply = answer({"x0": 5})
    llm = ScriptedLLM([reply, reply], cache=True)
    for expected_hits in (0, 1):
        x, z = scale_problem()
        optimizer = OptoPrime([x], llm=llm)
        run_step(optimizer, z, "should be 10")
        usage = optimizer.log[-1]["usage"]
        assert usage["cache_hits"] == expected_hits
    assert usage["prompt_tokens"] == 0 and usage["cost"] == 0.0 and llm.remaining == 1
