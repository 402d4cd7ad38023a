import random
import time

import pytest
from trainer_toys import Adder, Recorder, make_guide, optimizer_for

from opto.trace import GRAPH, bundle, model, node
from opto.trainer import apply_snapshot, take_snapshot, train
from opto.trainer.loggers import NullLogger
from opto.trainer.naming import canonical_names, fresh_names, model_nodes
from opto.trainer.snapshots import SnapshotError, materialize, snapshot_key


@model
class Pipeline:
    def __init__(self):
        self.scale = node(2, trainable=True, name="scale")
        self.settings = {"mode": node("fast", trainable=True, name="mode")}
        self.constant = node(10, name="ten")

    @bundle(trainable=True)
    def prepare(self, x):
        """Prepares x."""
        time.sleep(random.random() * 0.003)
        return x * 3

    def forward(self, x):
        return self.prepare(x) + self.scale * self.constant


def test_snapshot_holds_every_parameter_by_path():
    agent = Pipeline()
    snapshot = take_snapshot(agent)
    assert set(snapshot) == {"scale", "prepare"}
    assert snapshot["scale"] == 2
    assert snapshot["prepare"].startswith("def prepare(self, x):")


def test_apply_and_materialize():
    agent = Adder(1)
    copy = materialize(agent, {"offset": 7})
    assert (copy(1).data, agent(1).data) == (8, 2)
    apply_snapshot(agent, {"offset": 3})
    assert agent.offset.data == 3
    with pytest.raises(SnapshotError, match="does not have"):
        apply_snapshot(agent, {"bias": 1})


def test_snapshot_keys_depend_on_values_only():
    assert snapshot_key({"a": 1, "b": [1, 2]}) == snapshot_key({"b": [1, 2], "a": 1})
    assert snapshot_key({"a": 1}) != snapshot_key({"a": 2})
    assert len(snapshot_key({"a": object()})) == 16  # values JSON cannot hold are hashed by repr


def test_model_nodes_include_parameters_and_node_attributes():
    agent = Pipeline()
    names = {item.name for item in model_nodes(agent)}
    assert {"scale:0", "ten:0"} <= names


def test_canonical_names_renumber_in_example_order():
    agent = Adder(1)
    kept = model_nodes(agent)
    start = fresh_names(kept)
    late, early = agent(2), agent(1)
    canonical_names([early, late], kept, start)
    assert early.name == "add:0" and late.name == "add:1"
    assert early.parents[0].name == "int:0" and late.parents[0].name == "int:1"
    assert early.creation_index < late.creation_index
    assert agent.offset.name == "offset:0"


def prompts_of_a_run(num_threads: int, junk: int = 0) -> list[str]:
    for _ in range(junk):
        node(0)
    agent = Pipeline()
    recorder = Recorder(lambda *a, **k: '{"reasoning": "r", "suggestion": {}}')
    train(
        model=agent,
        train_dataset={"inputs": list(range(8)), "infos": list(range(8))},
        optimizer=optimizer_for(agent, recorder),
        guide=make_guide(),
        logger=NullLogger(),
        batch_size=8,
        num_steps=2,
        num_threads=num_threads,
    )
    return recorder.prompts


def test_prompts_are_the_same_on_any_number_of_threads_and_after_other_work():
    GRAPH.clear()
    sequential = prompts_of_a_run(1)
    GRAPH.clear()
    parallel = prompts_of_a_run(8)
    GRAPH.clear()
    after_other_work = prompts_of_a_run(8, junk=7)
    assert sequential == parallel == after_other_work
    assert "eval7 = eval(self=Pipeline0, x=x7" in parallel[0]
    assert "batchify0 = batchify(items_0=add0" in parallel[0]
