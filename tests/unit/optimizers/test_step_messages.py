"""Messages a step gives: no LLM call when the parameters received no feedback (a warning at
the user's line instead of a prompt with an empty #Variables), and refused or unknown
suggestions logged and printed by `step(verbose=True)`."""

from __future__ import annotations

import json
import logging

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import OPRO, OptoPrime, OptoPrimeV2, TextGrad
from opto.optimizers.step_report import NoFeedbackWarning
from opto.trace import model, node


@model
class Agent:
    def __init__(self):
        self.prompt = node("Be nice.", trainable=True, name="prompt")

    def forward(self, x):
        return self.prompt + x


def reply(suggestion):
    return json.dumps({"reasoning": "r", "answer": "", "suggestion": suggestion})


@pytest.mark.parametrize("optimizer_class", [OptoPrime, OptoPrimeV2, OPRO, TextGrad])
def test_parameters_of_another_instance_warn_at_the_users_line_without_a_call(optimizer_class):
    trained, used = Agent(), Agent()
    llm = ScriptedLLM([])
    optimizer = optimizer_class(trained.parameters(), llm=llm)
    output = used(" Hi")
    optimizer.zero_feedback()
    optimizer.backward(output, "too short")
    with pytest.warns(NoFeedbackWarning) as caught:
        result = optimizer.step()
    assert llm.requests == []
    assert dict(result) == {} and result.error == str(caught[0].message)
    message = str(caught[0].message)
    assert f"{optimizer_class.__name__}.step() skipped, no LLM call made" in message
    assert "prompt:0" in message and "another instance's parameters" in message
    assert caught[0].filename == __file__


def test_a_step_before_any_backward_warns_too():
    agent = Agent()
    optimizer = OptoPrime(agent.parameters(), llm=ScriptedLLM([]))
    with pytest.warns(NoFeedbackWarning, match="backward\\(\\) was not called"):
        optimizer.step()


def test_the_right_parameters_still_reach_the_model():
    agent = Agent()
    llm = ScriptedLLM([reply({"prompt0": "Be warm."})])
    optimizer = OptoPrime(agent.parameters(), llm=llm)
    optimizer.zero_feedback()
    optimizer.backward(agent(" Hi"), "too cold")
    result = optimizer.step()
    assert result.error is None and agent.prompt.data == "Be warm."
    assert "(str) prompt0=Be nice." in llm.requests[0]["messages"][1]["content"]


def refusing_step(verbose=False):
    count = node(3, trainable=True, name="count")
    llm = ScriptedLLM([reply({"count0": "many", "temperature": 0.3})])
    optimizer = OptoPrime([count], llm=llm)
    optimizer.zero_feedback()
    optimizer.backward(count * 2, "should be 10")
    return optimizer.step(verbose=verbose), count


def test_refused_and_unknown_suggestions_are_logged_at_info(caplog):
    caplog.set_level(logging.INFO, logger="opto")
    result, count = refusing_step()
    assert count.data == 3 and list(result.refused) == ["count0"]
    [record] = [r for r in caplog.records if r.name == "opto.optimizers.step_report"]
    assert record.levelno == logging.INFO
    text = record.getMessage()
    assert text.startswith("OptoPrime: parts of the suggestion were not applied:")
    assert "- count0: expected an int" in text
    assert "- not variables, ignored: temperature" in text


def test_verbose_step_prints_what_was_not_applied(capsys):
    refusing_step(verbose=True)
    printed = capsys.readouterr().out
    assert "OptoPrime: not applied:\n- count0: expected an int" in printed
    assert "not variables, ignored: temperature" in printed


def test_verbose_given_by_position_prints_too(capsys):
    count = node(3, trainable=True, name="count")
    optimizer = OptoPrime([count], llm=ScriptedLLM([reply({"nothing": 1})]))
    optimizer.zero_feedback()
    optimizer.backward(count * 2, "should be 10")
    optimizer.step("output")
    assert "not variables, ignored: nothing" in capsys.readouterr().out


def test_a_step_that_applies_everything_logs_nothing(caplog, capsys):
    caplog.set_level(logging.DEBUG, logger="opto.optimizers")
    count = node(3, trainable=True, name="count")
    optimizer = OptoPrime([count], llm=ScriptedLLM([reply({"count0": 5})]))
    optimizer.zero_feedback()
    optimizer.backward(count * 2, "should be 10")
    optimizer.step(verbose="output")
    assert count.data == 5
    assert not [r for r in caplog.records if r.name.startswith("opto.optimizers")]
    assert "not applied" not in capsys.readouterr().out
