"""Outputs that Python cannot print, or only in exponential time, never stop train()."""

import pytest
from trainer_toys import Recorder

from opto.llm import DummyLLM
from opto.optimizers import OptoPrime
from opto.trace import bundle, model, node
from opto.trainer import MetricGuide, train
from opto.trainer.loggers import NullLogger


def shared_twice(levels):
    value = [1]
    for _ in range(levels):
        value = [value, value]
    return value


def contains_itself():
    value = [1]
    value.append(value)
    return value


class Unprintable:
    def __str__(self):
        raise RuntimeError("no text for you")

    __repr__ = __str__


OUTPUTS = {
    "long int": lambda: 10**5000,
    "shared list 60 deep": lambda: shared_twice(60),
    "list inside itself": contains_itself,
    "str() raises": Unprintable,
}


@bundle()
def produce(kind, knob):
    """Returns an output that is hard to print."""
    return OUTPUTS[kind]()


@model
class Producer:
    def __init__(self):
        self.knob = node(1, trainable=True, name="knob")

    def forward(self, kind):
        return produce(kind, self.knob)


@pytest.mark.timeout(120)  # a liveness bound: printing the shared list would take for ever
@pytest.mark.parametrize("kind", list(OUTPUTS))
def test_train_runs_with_outputs_that_cannot_be_printed(kind):
    agent = Producer()
    recorder = Recorder(lambda *a, **k: '{"reasoning": "r", "suggestion": {"knob0": 2}}')
    result = train(
        model=agent,
        train_dataset={"inputs": [kind, kind], "infos": [0, 0]},
        optimizer=OptoPrime(agent.parameters(), llm=DummyLLM(recorder)),
        guide=MetricGuide(lambda response, reference: 0.0),  # the default feedback text
        logger=NullLogger(),
        batch_size=2,
        num_steps=1,
    )
    assert result.steps == 1 and agent.knob.data == 2
    prompt = recorder.prompts[0]
    assert len(prompt) < 1_000_000
    expected = {
        "long int": "<int of about 5,001 digits: 1.0000e+5000>",
        "shared list 60 deep": "...(cut at 100,000 characters)",
        "list inside itself": "[1, [...]]",
        "str() raises": "failed: RuntimeError: no text for you)>",
    }[kind]
    assert expected in prompt


def test_the_llm_judge_shows_any_response():
    from opto.trainer.guide import LLMJudge

    asked = []
    judge = LLMJudge(
        llm=DummyLLM(lambda *a, messages, **k: asked.append(messages[-1]["content"]) or "No"),
        use_formatted_response=True,
    )
    score, feedback = judge.get_feedback("q", 10**5000, OUTPUTS["list inside itself"]())
    assert score == 0.0
    assert "<int of about 5,001 digits" in asked[0] and "[1, [...]]" in feedback
