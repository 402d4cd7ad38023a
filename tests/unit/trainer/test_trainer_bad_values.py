"""One bad reply never stops a run that saves checkpoints, nor any resume of it."""

import json

import pytest
from trainer_toys import DATA, make_guide

from opto.llm import DummyLLM
from opto.optimizers import OptoPrime
from opto.optimizers.optimizer import Optimizer
from opto.trace import model, node
from opto.trainer import resume, train
from opto.trainer.loggers import NullLogger


@model
class FloatAdder:
    def __init__(self):
        self.offset = node(0.5, trainable=True, name="offset")

    def forward(self, x):
        return x + self.offset


def reply_with(text):
    """The same raw reply every time, whatever the prompt."""
    return DummyLLM(lambda *args, **kwargs: text)


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", '"nan"'])
def test_a_non_finite_suggestion_is_refused_and_the_run_and_its_resume_go_on(tmp_path, number):
    seen = []

    def teacher(*args, messages, **kwargs):
        seen.append(messages[-1]["content"])
        return '{"reasoning": "r", "suggestion": {"offset0": ' + number + "}}"

    agent = FloatAdder()
    options = {"guide": make_guide(), "logger": NullLogger(), "batch_size": 2}
    optimizer = OptoPrime(agent.parameters(), llm=DummyLLM(teacher))
    result = train(
        model=agent, train_dataset=DATA, optimizer=optimizer, num_steps=2, run_dir=tmp_path,
        **options,
    )
    assert result.steps == 2 and result.best_parameters == {"offset": 0.5}
    assert "offset0: the value holds" in seen[1] and "which is not a finite number" in seen[1]
    assert json.loads((tmp_path / "checkpoint.json").read_text())["step"] == 2
    again = FloatAdder()
    resumed = resume(
        tmp_path,
        model=again,
        optimizer=OptoPrime(again.parameters(), llm=DummyLLM(teacher)),
        num_steps=3,
        **options,
    )
    assert resumed.steps == 3 and again.offset.data == 0.5


def test_a_set_inside_a_dict_suggestion_is_refused(tmp_path):
    @model
    class Settings:
        def __init__(self):
            self.table = node({"a": 1}, trainable=True, name="table")

        def forward(self, x):
            return self.table["a"] + x

    agent = Settings()
    reply = json.dumps({"reasoning": "r", "suggestion": {"table0": "{'a': {1, 2}}"}})
    result = train(
        model=agent,
        train_dataset=DATA,
        optimizer=OptoPrime(agent.parameters(), llm=reply_with(reply)),
        guide=make_guide(),
        logger=NullLogger(),
        num_steps=2,
        run_dir=tmp_path,
    )
    assert result.steps == 2 and agent.table.data == {"a": 1}


class Careless(Optimizer):
    """An optimizer that writes whatever it likes, without the checks of opto's own."""

    def __init__(self, parameters, value):
        super().__init__(parameters)
        self.value = value

    def _step(self, *args, **kwargs):
        return {parameter: self.value for parameter in self.parameters}


@pytest.mark.parametrize("value", [float("nan"), {1, 2}, b"raw"], ids=["nan", "set", "bytes"])
def test_the_checkpoint_writer_refuses_what_it_cannot_store_at_update_time(tmp_path, value):
    agent = FloatAdder()
    with pytest.warns(UserWarning, match="was not applied: it holds"):
        result = train(
            model=agent,
            train_dataset=DATA,
            optimizer=Careless(agent.parameters(), value),
            guide=make_guide(),
            logger=NullLogger(),
            num_steps=2,
            run_dir=tmp_path,
        )
    assert result.steps == 2 and agent.offset.data == 0.5
    events = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    refused = [e for e in events if e.get("event") == "refused"]
    assert len(refused) == 2 and "offset" in refused[0]["message"]
