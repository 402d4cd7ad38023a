"""How Trace programs and Trace's training algorithms call ``optimizer.step``, and what the
prompts say in the cases Trace users rely on."""

import json
import warnings

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import OPRO, OPROv2, Optimizer, OptoPrime, OptoPrimeMulti
from opto.trace import ExecutionError, bundle, node


def reply(suggestion):
    return json.dumps({"reasoning": "r", "answer": "", "suggestion": suggestion})


def backward(optimizer, output, feedback):
    optimizer.zero_feedback()
    optimizer.backward(output, feedback)


def test_options_forwarded_by_training_algorithms_are_ignored_with_one_warning():
    price = node(10, trainable=True, name="price")
    llm = ScriptedLLM([reply({"price0": 12}), reply({"price0": 14})])
    optimizer = OptoPrime([price], llm=llm)
    backward(optimizer, price * 2, "too low")
    with pytest.warns(UserWarning, match="ignores option\\(s\\) num_threads, validate_dataset"):
        optimizer.step(verbose=False, num_threads=4, validate_dataset=None)
    assert price.data == 12
    backward(optimizer, price * 2, "still too low")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizer.step(num_threads=4, validate_dataset=None, bypassing=False)
    assert price.data == 14


def test_optoprime_multi_takes_its_own_options_per_step_and_ignores_others():
    price = node(10, trainable=True, name="price")
    llm = ScriptedLLM([reply({"price0": 11}), reply({"price0": 11}), reply({"price0": 30})])
    optimizer = OptoPrimeMulti([price], llm=llm, num_responses=1)
    backward(optimizer, price + 1, "higher")
    with pytest.warns(UserWarning, match="test_dataset"):
        optimizer.step(num_responses=3, selection_technique="majority", test_dataset=[])
    assert price.data == 11 and len(optimizer.candidates) == 3
    assert optimizer.num_responses == 1, "per-step options do not stick"


def test_a_user_optimizer_whose_step_takes_kwargs_receives_everything():
    received = {}

    class Halving(Optimizer):
        def _step(self, verbose=False, mask=None, *args, **kwargs):
            received.update(kwargs)
            return {p: p.data / 2 for p in self.parameters}

    value = node(8.0, trainable=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Halving([value]).step(num_threads=2, eval_frequency=3)
    assert received == {"num_threads": 2, "eval_frequency": 3} and value.data == 4.0


def test_verbose_step_prints_the_system_and_the_user_prompt(capsys):
    price = node(10, trainable=True, name="price")
    optimizer = OptoPrime([price], llm=ScriptedLLM([reply({"price0": 12}), reply({"price0": 13})]))
    backward(optimizer, price * 2, "too low")
    optimizer.step(verbose=True)
    printed = capsys.readouterr().out
    assert "You are solving a programming problem" in printed, "the system prompt"
    assert "#Feedback\ntoo low" in printed, "the user prompt"
    assert '"price0": 12' in printed, "the reply"
    backward(optimizer, price * 2, "too low")
    optimizer.step(verbose="output")
    printed = capsys.readouterr().out
    assert "#Feedback" not in printed and '"price0": 13' in printed


def test_the_documentation_of_a_call_that_raised_says_so():
    @bundle()
    def invert(x):
        """One divided by x."""
        return 1 / x

    denominator = node(0, trainable=True, name="denominator")
    llm = ScriptedLLM([reply({"denominator0": 2})])
    optimizer = OptoPrime([denominator], llm=llm)
    try:
        output = invert(denominator)
    except ExecutionError as error:
        output = error.exception_node
    backward(optimizer, output, "it crashed")
    optimizer.step()
    user = llm.requests[0]["messages"][1]["content"]
    documentation = user.split("#Documentation\n")[1].split("\n\n")[0]
    assert documentation == "[invert] One divided by x. A call of invert raised an exception."
    assert "(ZeroDivisionError) division by zero" in user


def test_opro_sends_its_own_output_format():
    price = node(10, trainable=True, name="price")
    llm = ScriptedLLM([json.dumps({"suggestion": {"price0": 12}})])
    optimizer = OPRO([price], llm=llm)
    backward(optimizer, price * 2, "too low")
    optimizer.step()
    system = llm.requests[0]["messages"][0]["content"]
    assert system == OPRO.output_format_prompt == optimizer.output_format_prompt
    assert '"suggestion"' in system and "#Variables" not in system


def test_oprov2_shows_the_description_of_each_solution_part():
    tone = node("formal", trainable=True, name="tone", description="one word, lower case")
    llm = ScriptedLLM(
        ["<reasoning>r</reasoning><solution><name>tone0</name><value>warm</value></solution>"]
    )
    optimizer = OPROv2([tone], llm=llm)
    backward(optimizer, tone + " reply", "too cold")
    optimizer.step()
    user = llm.requests[0]["messages"][1]["content"]
    assert (
        '<solution name="tone0" type="str">\n<value>\nformal\n</value>\n'
        "<constraint>\none word, lower case\n</constraint>\n</solution>"
    ) in user
    assert tone.data == "warm"
