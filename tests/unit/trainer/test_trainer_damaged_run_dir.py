"""A damaged run directory is refused with CheckpointError, never a raw error or a bad state.

Each variant below changes one thing in a real checkpoint (or config, or dataset file) and
resumes from it. Resuming either raises CheckpointError naming the problem, or (the intact
control) continues the run.
"""

import json
import shutil

import pytest
from trainer_toys import DATA, Adder, make_guide, noisy_reply, optimizer_for

from opto.trace import GRAPH, model, node
from opto.trace.modules import ModuleSerializationError
from opto.trainer import CheckpointError, resume, train
from opto.trainer.loggers import NullLogger


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A beam search of two steps with optimizer memory: every part of a checkpoint is used."""
    folder = tmp_path_factory.mktemp("run")
    GRAPH.clear()
    agent = Adder(0)
    train(
        model=agent,
        train_dataset=DATA,
        algorithm="BeamsearchAlgorithm",
        optimizer=optimizer_for(agent, noisy_reply, memory_size=2),
        guide=make_guide(),
        logger=NullLogger(),
        batch_size=2,
        num_steps=2,
        run_dir=folder,
    )
    return folder


def resume_from(folder):
    agent = Adder(0)
    return resume(
        folder,
        model=agent,
        guide=make_guide(),
        optimizer=optimizer_for(agent, noisy_reply, memory_size=2),
        logger=NullLogger(),
        num_steps=3,
    )


def candidate(doc):
    return doc["pool"]["candidates"][0]


def setting(path, value):
    """A change: ``path`` (keys and indices) in the checkpoint gets ``value``."""

    def change(doc):
        *parents, last = path
        target = doc
        for key in parents:
            target = target[key]
        target[last] = value
        return doc

    return change


def removing(path):
    def change(doc):
        *parents, last = path
        target = doc
        for key in parents:
            target = target[key]
        del target[last]
        return doc

    return change


def calling(function):
    def change(doc):
        function(doc)
        return doc

    return change


def nest(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


CHECKPOINT_CHANGES = {
    "not an object": lambda doc: [doc],
    "no format": removing(["format"]),
    "other format": setting(["format"], "opto.trainer.checkpoint/99"),
    "other algorithm": setting(["algorithm"], "PrioritySearch"),
    "algorithm not a string": setting(["algorithm"], 7),
    "negative step": setting(["step"], -1),
    "step as text": setting(["step"], "2"),
    "step as bool": setting(["step"], True),
    "step as float": setting(["step"], 2.0),
    "huge step": setting(["step"], 2**80),
    "loader position past the data": setting(["loader", "position"], 99),
    "loader order out of range": setting(["loader", "order", 0], 99),
    "loader order repeats": calling(lambda d: d["loader"]["order"].__setitem__(1, d["loader"]["order"][0])),
    "loader for other data": setting(["loader", "size"], 99),
    "loader epochs negative": setting(["loader", "n_epochs"], -2),
    "loader rng too short": setting(["loader", "rng", 1], [1, 2, 3]),
    "rng word too large": setting(["rng", 1, 0], 2**40),
    "rng position too large": setting(["rng", 1, 624], 10_000),
    "rng version": setting(["rng", 0], 2),
    "rng not a list": setting(["rng"], "seeded"),
    "no candidates": setting(["pool", "candidates"], []),
    "current not a candidate": setting(["pool", "current"], 12345),
    "current as text": setting(["pool", "current"], "6"),
    "duplicate candidate ids": calling(
        lambda d: d["pool"]["candidates"].append(dict(d["pool"]["candidates"][0]))
    ),
    "next id reused": setting(["pool", "next_id"], 1),
    "candidate not an object": setting(["pool", "candidates", 0], "best"),
    "candidate without snapshot": removing(["pool", "candidates", 0, "snapshot"]),
    "text in an int parameter": calling(lambda d: candidate(d)["snapshot"].update(offset="five")),
    "float in an int parameter": calling(lambda d: candidate(d)["snapshot"].update(offset=5.0)),
    "unknown parameter": calling(lambda d: candidate(d)["snapshot"].update(bias=1)),
    "damaged tuple tag": calling(
        lambda d: candidate(d)["snapshot"].update(offset={"__opto_tuple__": 5})
    ),
    "snapshot value nested too deep": calling(
        lambda d: candidate(d)["snapshot"].update(offset=nest(150))
    ),
    "validation key not an index": calling(lambda d: candidate(d)["validation"].update(x={})),
    "validation score as text": calling(
        lambda d: candidate(d)["validation"].update({"0": {"score": "high"}})
    ),
    "rollouts not a list": calling(lambda d: candidate(d).update(rollouts={"score": 1})),
    "parent as text": calling(lambda d: candidate(d).update(parent="root")),
    "optimizers not a list": setting(["optimizers"], {"memory": []}),
    "optimizer state not an object": setting(["optimizers", 0], "memory"),
    "two optimizer states": calling(lambda d: d["optimizers"].append({})),
    "memory entry as text": setting(["optimizers", 0, "memory", 0], "remember this"),
    "memory not a list": setting(["optimizers", 0, "memory"], 3),
    "pending notes as a list": setting(["optimizers", 0, "pending_notes"], ["x"]),
    "memory nested too deep": setting(["optimizers", 0, "memory", 0, "feedback"], nest(400)),
    "train score as text": setting(["train_scores", 0], "good"),
    "test score malformed": setting(["test_scores"], [[1]]),
    "negative cost": setting(["usage", "cost"], -0.5),
    "cost as text": setting(["usage", "cost"], "free"),
    "negative calls": setting(["usage", "calls"], -3),
    "usage without tokens": removing(["usage", "prompt_tokens"]),
    "negative elapsed time": setting(["elapsed_s"], -1.0),
    "other training data": setting(["fingerprints", "train"], "0000000000000000"),
    "fingerprints not an object": setting(["fingerprints"], None),
    "stopped as a number": setting(["stopped"], 3),
}
for key in ("algorithm", "step", "loader", "rng", "pool", "optimizers", "train_scores",
            "test_scores", "usage", "elapsed_s", "fingerprints"):
    CHECKPOINT_CHANGES[f"no {key}"] = removing([key])

RAW_CHECKPOINTS = {
    "empty": "",
    "not JSON": "checkpoint? what checkpoint",
    "truncated": None,  # the real file cut in half
    "deeply nested": "[" * 100_000 + "]" * 100_000,
    "binary": "\udcff\udcfe",
    "infinity": None,  # step written as 1e999
    "NaN cost": None,
    "int too long to read": None,
}


def write_raw(path, name):
    text = path.read_text()
    if name == "truncated":
        return text[: len(text) // 2]
    if name == "infinity":
        return text.replace('"step": 2,', '"step": 1e999,')
    if name == "NaN cost":
        return text.replace('"cost": 0.0', '"cost": NaN')
    if name == "int too long to read":
        return text.replace('"step": 2,', '"step": ' + "9" * 5000 + ",")
    return RAW_CHECKPOINTS[name]


@pytest.fixture
def copy_of(finished_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(finished_run, folder)
    return folder


def test_the_intact_run_resumes(copy_of):
    assert resume_from(copy_of).steps == 3


@pytest.mark.parametrize("change", list(CHECKPOINT_CHANGES))
def test_a_damaged_checkpoint_is_refused(copy_of, change):
    path = copy_of / "checkpoint.json"
    document = CHECKPOINT_CHANGES[change](json.loads(path.read_text()))
    path.write_text(json.dumps(document))
    with pytest.raises(CheckpointError):
        resume_from(copy_of)


@pytest.mark.parametrize("name", list(RAW_CHECKPOINTS))
def test_a_checkpoint_that_is_not_json_is_refused(copy_of, name):
    path = copy_of / "checkpoint.json"
    text = write_raw(path, name)
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(CheckpointError):
        resume_from(copy_of)


RUN_FILE_CHANGES = {
    "config not an object": ("config.json", "[]"),
    "config without options": ("config.json", '{"algorithm": "BeamsearchAlgorithm"}'),
    "config options a list": ("config.json", '{"algorithm": "BeamsearchAlgorithm", "options": []}'),
    "config algorithm a number": ("config.json", '{"algorithm": 3, "options": {}}'),
    "config truncated": ("config.json", '{"algorithm": "Beam'),
    "datasets a list": ("datasets.json", "[]"),
    "datasets train a string": ("datasets.json", '{"train": "all of them"}'),
    "datasets inputs not a list": ("datasets.json", '{"train": {"inputs": 3, "infos": []}}'),
}


@pytest.mark.parametrize("change", list(RUN_FILE_CHANGES))
def test_damaged_run_files_are_refused(copy_of, change):
    name, text = RUN_FILE_CHANGES[change]
    (copy_of / name).write_text(text)
    with pytest.raises(CheckpointError):
        resume_from(copy_of)


def test_leftover_temporaries_are_removed_when_the_run_is_opened(copy_of):
    leftovers = [
        copy_of / ".checkpoint.json.ab3_x9yz",  # what a kill between write and rename leaves
        copy_of / ".checkpoint.json.k2j4h5g6.tmp",
        copy_of / ".best_model.json.q1w2e3r4.tmp",
        copy_of / ".config.json.zzzzzzzz",
    ]
    for leftover in leftovers:
        leftover.write_text('{"partial')
    unrelated = copy_of / ".checkpoint.json.notes"
    unrelated.write_text("mine")
    resume_from(copy_of)
    assert not any(leftover.exists() for leftover in leftovers)
    assert unrelated.read_text() == "mine"


@model
class Typed:
    def __init__(self):
        self.count = node(3, trainable=True, name="count")
        self.pair = node((1, "a"), trainable=True, name="pair")

    def forward(self, x):
        return self.count


MODULE_FILES = {
    "truncated": '{"format": "opto.module/1", "parameters": {"count": ',
    "a list": "[]",
    "no parameters": '{"format": "opto.module/1"}',
    "parameters a list": '{"format": "opto.module/1", "parameters": [3]}',
    "text in an int": '{"format": "opto.module/1", "parameters": {"count": "3", "pair": '
    '{"__opto_tuple__": [1, "a"]}}}',
    "list in a tuple": '{"format": "opto.module/1", "parameters": {"count": 3, "pair": [1]}}',
    "bad tuple tag": '{"format": "opto.module/1", "parameters": {"count": 3, "pair": '
    '{"__opto_tuple__": 1}}}',
    "NaN": '{"format": "opto.module/1", "parameters": {"count": NaN, "pair": []}}',
    "infinity": '{"format": "opto.module/1", "parameters": {"count": 1e999, "pair": []}}',
    "int too long": '{"format": "opto.module/1", "parameters": {"count": ' + "7" * 5000 + "}}",
    "deep": '{"format": "opto.module/1", "parameters": {"count": ' + "[" * 50_000 + "]" * 50_000,
}


@pytest.mark.parametrize("name", list(MODULE_FILES))
def test_module_load_refuses_damaged_files_and_changes_nothing(tmp_path, name):
    path = tmp_path / "model.json"
    path.write_text(MODULE_FILES[name])
    agent = Typed()
    with pytest.raises(ModuleSerializationError):
        agent.load(path)
    assert (agent.count.data, agent.pair.data) == (3, (1, "a"))
