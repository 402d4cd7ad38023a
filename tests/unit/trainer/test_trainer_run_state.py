"""RunState on its own: the loop's whole progress, saved, checked, loaded and rolled back.

The checks of damaged run directories through ``resume`` are in test_trainer_damaged_run_dir;
here the state object is tested without a run directory.
"""

import copy
import json
import random
import shutil
from pathlib import Path

import pytest
from trainer_toys import DATA, Adder, Recorder, make_guide, noisy_reply, optimizer_for

from opto.trace import GRAPH
from opto.trainer import CheckpointError, resume
from opto.trainer.algorithms import GEPA, BeamsearchAlgorithm, RunState
from opto.trainer.checkpoint import fingerprint
from opto.trainer.loader import DataLoader
from opto.trainer.loggers import NullLogger
from opto.trainer.snapshots import take_snapshot

OLD_RUN = Path(__file__).parent / "data" / "gepa-run-v1"
"""A GEPA run of 2 steps written by opto before the loop's state was one object (same
checkpoint format, ``opto.trainer.checkpoint/1``)."""

SPENT = ("usage", "elapsed_s")


def trained(algorithm=BeamsearchAlgorithm, steps=3, **options):
    """A loop after ``steps`` steps of the toy task (optimizer memory on), fresh names."""
    GRAPH.clear()
    agent = Adder(0)
    recorder = Recorder(noisy_reply)
    loop = algorithm(agent, optimizer_for(agent, recorder, memory_size=2), logger=NullLogger())
    loop.train(make_guide(), DATA, batch_size=2, num_steps=steps, **options)
    return loop, recorder


def without(document, keys=SPENT):
    return {k: v for k, v in document.items() if k not in keys}


def load(document, loop, **changes):
    """``RunState.from_json`` for a new run of the same setup as ``loop``."""
    agent = Adder(0)
    arguments = {
        "algorithm": type(loop).__name__,
        "loader": DataLoader(DATA, batch_size=2, seed=0),
        "optimizers": [optimizer_for(agent, memory_size=2)],
        "fingerprints": {"train": fingerprint(DATA), "validate": fingerprint(DATA), "test": None},
        "model_values": take_snapshot(agent),
        **changes,
    }
    return RunState.from_json(document, **arguments)


def test_a_state_round_trips_through_json():
    loop, _ = trained()
    document = loop.state.to_json()
    assert json.loads(json.dumps(document)) == document
    assert document["format"] == "opto.trainer.checkpoint/1" and document["step"] == 3
    state = load(document, loop)
    again = state.to_json()
    assert without(again) == without(document)
    assert again["usage"] == document["usage"]  # usage so far comes back as the meter's start
    assert again["elapsed_s"] >= document["elapsed_s"]
    assert state.epoch == loop.state.epoch and state.current.snapshot == loop.state.current.snapshot
    memory = list(loop.optimizers[0].memory)
    assert len(memory) == 2 and list(state.optimizers[0].memory) == memory  # optimizer memory


def test_the_state_is_every_thing_a_checkpoint_holds():
    loop, _ = trained(GEPA)
    state = loop.state
    document = state.to_json()
    assert document["loader"] == state.loader.state_dict() and state.epoch == 0
    assert document["rng"][1] == list(state.rng.getstate()[1])
    assert document["pool"] == state.pool.to_json()
    assert document["pool"]["current"] == state.current.id
    assert document["optimizers"] == [loop.optimizers[0].state_dict()]
    assert document["train_scores"] == state.train_scores and len(state.history) == 3
    assert document["stopped"] == "completed"
    assert "history" not in document  # the step records are in run.jsonl


def test_restore_goes_back_to_a_saved_point_but_keeps_what_was_spent():
    loop, _ = trained(GEPA, steps=2)
    state = loop.state
    saved = state.to_json()
    spent = state.usage.totals()
    state.step, state.stopped = 9, None
    state.train_scores.append(0.0)
    state.rng.random()
    state.loader.next_indices()
    state.pool.candidates.pop()
    loop.optimizers[0].memory.clear()
    state.restore(saved)
    assert without(state.to_json()) == without(saved)
    assert state.usage.totals() == spent


def resumed(run_dir, steps):
    """Continue the run in ``run_dir`` to ``steps`` steps as a new process would: the
    result, the prompts of this session and the checkpoint written at the end."""
    GRAPH.clear()
    agent = Adder(0)
    recorder = Recorder(noisy_reply)
    result = resume(
        run_dir,
        model=agent,
        guide=make_guide(),
        optimizer=optimizer_for(agent, recorder, memory_size=2),
        logger=NullLogger(),
        num_steps=steps,
    )
    return result, recorder.prompts, json.loads((run_dir / "checkpoint.json").read_text())


def test_a_resumed_run_ends_in_the_state_of_one_never_stopped(tmp_path):
    uninterrupted, prompts = trained(GEPA, steps=5)
    _, first_prompts = trained(GEPA, steps=2, run_dir=tmp_path)
    result, second_prompts, checkpoint = resumed(tmp_path, 5)
    assert without(checkpoint) == without(uninterrupted.state.to_json())
    assert first_prompts.prompts + second_prompts == prompts.prompts
    assert result.best_parameters == uninterrupted.state.current.snapshot


def test_a_checkpoint_written_before_the_state_object_resumes(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(OLD_RUN, run_dir)
    result, resumed_prompts, checkpoint = resumed(run_dir, 4)
    uninterrupted, prompts = trained(GEPA, steps=4)
    assert result.steps == 4 and result.stopped == "completed"
    assert resumed_prompts == prompts.prompts[2:]  # steps 3 and 4, byte for byte
    expected = without(uninterrupted.state.to_json())
    # The old checkpoint has no evaluation count: only this session's evaluations are counted.
    assert 0 < checkpoint.pop("evaluations") < expected.pop("evaluations")
    assert without(checkpoint) == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("format"), "not an opto trainer checkpoint"),
        (lambda d: d.update(format="opto.trainer.checkpoint/0"), "not an opto trainer checkpoint"),
        (lambda d: d["pool"].update(current=77), r"pool\.current must be the id of a candidate"),
        (lambda d: d["loader"].update(position=99), r"loader\.position must be an int"),
        (lambda d: d["usage"].update(cost=-1.0), r"usage\.cost must be a finite number"),
        (lambda d: d.update(algorithm="GEPA"), "written by GEPA, not BeamsearchAlgorithm"),
        (lambda d: d["optimizers"].append({}), "state of 2 optimizer"),
        (lambda d: d["fingerprints"].update(train="0" * 16), "training data differs"),
        (
            lambda d: d["pool"]["candidates"][0]["snapshot"].update(offset="five"),
            "does not fit this model",
        ),
        (lambda d: d["optimizers"][0].update(memory=3), "damaged"),
    ],
)
def test_a_damaged_or_foreign_document_is_refused_by_the_state_itself(change, message):
    loop, _ = trained(steps=2)
    document = copy.deepcopy(loop.state.to_json())
    change(document)
    with pytest.raises(CheckpointError, match=message):
        load(document, loop, source="the test document")


def test_a_document_that_is_not_an_object_is_refused():
    loop, _ = trained(steps=1)
    for document in ([], "checkpoint", None):
        with pytest.raises(CheckpointError, match="not an opto trainer checkpoint"):
            load(document, loop)


def test_a_new_state_holds_one_current_candidate():
    loader = DataLoader(DATA, batch_size=2, seed=3)
    state = RunState.start("Loop", loader, [], {"offset": 0}, 3, {"train": "f"})
    assert state.step == 0 and state.epoch == 0 and state.stopped is None
    assert [c.snapshot for c in state.pool.candidates] == [{"offset": 0}]
    assert state.current is state.pool.candidates[0]
    assert state.rng.random() == random.Random(4).random()  # the search's own seed
