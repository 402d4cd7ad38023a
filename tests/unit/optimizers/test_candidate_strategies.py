"""OptoPrimeMulti's techniques are strategy objects: named ones, and new ones given directly."""

import json

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import OptoPrimeMulti
from opto.optimizers.candidates import (
    GENERATION_STRATEGIES,
    SELECTION_STRATEGIES,
    CandidateRequest,
    Majority,
    generation_strategy,
    selection_strategy,
)
from opto.trace import node


def reply(value):
    return json.dumps({"reasoning": "r", "answer": "", "suggestion": {"speed0": value}})


class Twice:
    """A new generation strategy: the same request twice, once cold and once hot."""

    def generate(self, request: CandidateRequest) -> list[str]:
        return [request.ask(request.system_prompt, temperature=t) for t in (0.0, 0.9)]


class Largest:
    """A new selection strategy: the biggest suggested speed."""

    def select(self, candidates, request):
        return max(candidates, key=lambda c: json.loads(c)["suggestion"]["speed0"])


def test_strategy_objects_are_used_as_given():
    speed = node(1, trainable=True, name="speed")
    llm = ScriptedLLM([reply(4), reply(9)])
    optimizer = OptoPrimeMulti(
        [speed], llm=llm, generation_technique=Twice(), selection_technique=Largest()
    )
    optimizer.zero_feedback()
    optimizer.backward(speed * 2, "faster")
    optimizer.step()
    assert speed.data == 9
    assert [r["temperature"] for r in llm.requests] == [0.0, 0.9]


def test_names_are_the_registered_strategies_and_unknown_names_are_refused():
    assert set(GENERATION_STRATEGIES) == {
        "temperature_variation",
        "self_refinement",
        "iterative_alternatives",
        "multi_experts",
        "multi_llm",
    }
    assert isinstance(selection_strategy("majority"), Majority)
    assert generation_strategy("self_refinement") is GENERATION_STRATEGIES["self_refinement"]
    assert selection_strategy(SELECTION_STRATEGIES["last"]) is SELECTION_STRATEGIES["last"]
    with pytest.raises(ValueError, match="generation_technique must be one of"):
        OptoPrimeMulti([node(1, trainable=True)], llm=ScriptedLLM([]), generation_technique="x")
    with pytest.raises(ValueError, match="selection_technique must be one of"):
        OptoPrimeMulti([node(1, trainable=True)], llm=ScriptedLLM([]), selection_technique="x")
