import json

import pytest
from trainer_toys import DATA, Adder, Recorder, guided_reply, make_guide, noisy_reply, optimizer_for

import opto.llm as llm_pkg
from opto.llm import DummyLLM
from opto.trace import GRAPH, bundle, model, node
from opto.trace.modules import ModuleSerializationError
from opto.trainer import CheckpointError, resume, train
from opto.trainer.loggers import NullLogger

OPTIONS = {"batch_size": 2, "logger": NullLogger()}


def fresh_setup(reply=noisy_reply, memory_size=2):
    """What a new process would build: same names, new objects."""
    GRAPH.clear()
    agent = Adder(0)
    recorder = Recorder(reply)
    return agent, optimizer_for(agent, recorder, memory_size=memory_size), recorder


def run_uninterrupted(algorithm, steps):
    agent, optimizer, recorder = fresh_setup()
    result = train(
        model=agent,
        train_dataset=DATA,
        algorithm=algorithm,
        optimizer=optimizer,
        guide=make_guide(),
        num_steps=steps,
        **OPTIONS,
    )
    return result, recorder.prompts


@pytest.mark.parametrize(
    "algorithm", ["MinibatchAlgorithm", "BeamsearchAlgorithm", "GEPA"]
)
def test_resuming_gives_the_same_run_as_not_stopping(tmp_path, algorithm):
    expected, expected_prompts = run_uninterrupted(algorithm, 6)
    agent, optimizer, first = fresh_setup()
    train(
        model=agent,
        train_dataset=DATA,
        algorithm=algorithm,
        optimizer=optimizer,
        guide=make_guide(),
        num_steps=3,
        run_dir=tmp_path,
        **OPTIONS,
    )
    agent, optimizer, second = fresh_setup()
    result = resume(
        tmp_path,
        model=agent,
        guide=make_guide(),
        optimizer=optimizer,
        logger=NullLogger(),
        num_steps=6,
    )
    assert result.best_parameters == expected.best_parameters
    assert result.train_scores == expected.train_scores
    assert first.prompts + second.prompts == expected_prompts  # memory and data order restored
    assert agent.offset.data == expected.best_parameters["offset"]


def test_the_run_directory_holds_config_checkpoint_log_and_model(tmp_path):
    agent, optimizer, _ = fresh_setup(guided_reply)
    train(
        model=agent,
        train_dataset=DATA,
        optimizer=optimizer,
        guide=make_guide(),
        num_steps=2,
        run_dir=tmp_path,
        **OPTIONS,
    )
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["algorithm"] == "MinibatchAlgorithm"
    assert config["options"]["batch_size"] == 2 and config["options"]["num_steps"] == 2
    assert json.loads((tmp_path / "datasets.json").read_text())["train"] == DATA
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    assert checkpoint["format"] == "opto.trainer.checkpoint/1"
    assert checkpoint["step"] == 2 and checkpoint["stopped"] == "completed"
    assert checkpoint["pool"]["candidates"][0]["snapshot"] == {"offset": 5}
    assert set(checkpoint["loader"]) == {"order", "position", "n_epochs", "rng", "size"}
    assert len(checkpoint["rng"][1]) == 625
    assert len(checkpoint["optimizers"][0]["memory"]) == 2  # OptoPrime's memory
    assert checkpoint["usage"]["calls"] == 2 == llm_pkg.get_usage().total.calls
    assert json.loads((tmp_path / "best_model.json").read_text())["parameters"] == {"offset": 5}
    records = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records] == [
        "start",
        "step",
        "checkpoint",
        "step",
        "checkpoint",
        "checkpoint",
        "stop",
        "summary",
    ]
    assert records[-1]["message"].startswith("Training finished")
    step = records[1]
    assert step["step"] == 1 and step["parameters"] == {"offset": 5}
    assert {"train_score", "best_score", "tokens", "cost", "calls", "elapsed_s", "epoch"} <= set(
        step
    )


def test_checkpoints_every_n_steps(tmp_path):
    agent, optimizer, _ = fresh_setup(guided_reply)
    train(
        model=agent,
        train_dataset=DATA,
        optimizer=optimizer,
        guide=make_guide(),
        num_steps=4,
        run_dir=tmp_path,
        save_frequency=3,
        **OPTIONS,
    )
    events = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "checkpoint"] == [3, 4]


def test_a_used_run_directory_needs_resume(tmp_path):
    agent, optimizer, _ = fresh_setup(guided_reply)
    train(
        model=agent,
        train_dataset=DATA,
        optimizer=optimizer,
        guide=make_guide(),
        num_steps=1,
        run_dir=tmp_path,
        **OPTIONS,
    )
    with pytest.raises(CheckpointError, match="resume=True"):
        train(
            model=agent,
            train_dataset=DATA,
            optimizer=optimizer,
            guide=make_guide(),
            num_steps=1,
            run_dir=tmp_path,
            **OPTIONS,
        )
    other = {"inputs": [1, 2], "infos": [6, 7]}
    with pytest.raises(CheckpointError, match="training data differs"):
        train(
            model=agent,
            train_dataset=other,
            optimizer=optimizer,
            guide=make_guide(),
            num_steps=1,
            run_dir=tmp_path,
            resume=True,
            **OPTIONS,
        )
    (tmp_path / "checkpoint.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        resume(tmp_path, model=agent, guide=make_guide(), optimizer=optimizer, logger=NullLogger())


def test_resume_needs_a_run_directory(tmp_path):
    agent, optimizer, _ = fresh_setup()
    with pytest.raises(CheckpointError, match="does not exist"):
        resume(tmp_path / "nothing", model=agent, guide=make_guide(), optimizer=optimizer)


def test_a_budget_stop_checkpoints_and_a_larger_budget_finishes_the_run(tmp_path):
    expected, _ = run_uninterrupted("MinibatchAlgorithm", 6)
    agent, optimizer, _ = fresh_setup()
    stopped = train(
        model=agent,
        train_dataset=DATA,
        optimizer=optimizer,
        guide=make_guide(),
        num_steps=6,
        run_dir=tmp_path,
        max_calls=3,
        **OPTIONS,
    )
    assert (stopped.stopped, stopped.steps) == ("budget", 3)
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    assert (checkpoint["stopped"], checkpoint["step"]) == ("budget", 3)
    assert checkpoint["usage"]["calls"] == 3
    assert agent.offset.data == stopped.best_parameters["offset"]
    events = [
        json.loads(line)["event"] for line in (tmp_path / "run.jsonl").read_text().splitlines()
    ]
    assert events.count("stop") == 2 and "budget" in (tmp_path / "run.jsonl").read_text()
    agent, optimizer, _ = fresh_setup()
    again = resume(
        tmp_path,
        model=agent,
        guide=make_guide(),
        optimizer=optimizer,
        logger=NullLogger(),
        max_calls=3,
    )
    assert (again.stopped, again.steps) == ("budget", 3)  # the 3 calls are spent already
    agent, optimizer, _ = fresh_setup()
    done = resume(
        tmp_path,
        model=agent,
        guide=make_guide(),
        optimizer=optimizer,
        logger=NullLogger(),
        max_calls=10,
    )
    assert (done.stopped, done.steps) == ("completed", 6)
    assert done.best_parameters == expected.best_parameters
    assert json.loads((tmp_path / "checkpoint.json").read_text())["usage"]["calls"] == 6


calls: list[str] = []


def counting_agent_llm(*args, **kwargs):
    calls.append(kwargs["messages"][0]["content"])
    return kwargs["messages"][0]["content"].split()[-1]


AGENT_LLM = DummyLLM(counting_agent_llm, cache=None)  # follows the global cache switch


@bundle()
def echo_plus(x, offset):
    """x + offset, computed by asking the LLM to echo it."""
    return int(AGENT_LLM(messages=[{"role": "user", "content": f"say {x + offset}"}]).content)


@model
class LLMAdder(Adder):
    def forward(self, x):
        return echo_plus(x, self.offset)


class Interrupt(BaseException):
    pass


def test_llm_replies_are_cached_in_the_run_directory_so_a_rerun_step_is_free(tmp_path):
    def interrupt_on_third(*args, **kwargs):
        if len(interrupting.prompts) == 3:
            raise Interrupt
        return guided_reply(*args, **kwargs)

    calls.clear()
    GRAPH.clear()
    agent = LLMAdder(0)
    interrupting = Recorder(interrupt_on_third)
    with pytest.raises(Interrupt):
        train(
            model=agent,
            train_dataset=DATA,
            optimizer=optimizer_for(agent, interrupting),
            guide=make_guide(),
            num_steps=4,
            run_dir=tmp_path,
            **OPTIONS,
        )
    assert json.loads((tmp_path / "checkpoint.json").read_text())["step"] == 2
    assert len(list((tmp_path / "llm-cache").iterdir())) > 0
    paid_before = list(calls)
    GRAPH.clear()
    agent = LLMAdder(0)
    resume(
        tmp_path,
        model=agent,
        guide=make_guide(),
        optimizer=optimizer_for(agent, guided_reply),
        logger=NullLogger(),
    )
    assert len(calls) == len(set(calls))  # no agent call was made twice
    assert set(paid_before) <= set(calls)
    assert llm_pkg.get_usage().total.cache_hits >= 2  # step 3's forward came from the cache
    assert llm_pkg.cache.cache_enabled_globally() is None  # the global switch is restored
    assert llm_pkg.get_cache().directory != tmp_path / "llm-cache"


def test_values_json_cannot_hold_are_named(tmp_path):
    @model
    class Odd:
        def __init__(self):
            self.tags = node({1, 2}, trainable=True, name="tags")

        def forward(self, x):
            return self.tags

    agent = Odd()
    with pytest.raises(ModuleSerializationError, match="tags"):
        train(
            model=agent,
            train_dataset=DATA,
            optimizer=optimizer_for(agent),
            guide=make_guide(),
            run_dir=tmp_path,
            **OPTIONS,
        )
