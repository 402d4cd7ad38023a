"""Run directories and archives are hostile input: reading one never raises anything but
RunFileError with a message, and damage that a kill can cause is skipped and noted."""

from __future__ import annotations

import json
import shutil

import pytest

from opto.report import RunFileError, read
from opto.report.run_files import read_run


def test_a_finished_run_reads_back(beam_run):
    run = read_run(beam_run)
    assert run.status == "completed" and run.algorithm == "BeamsearchAlgorithm"
    assert [row.step for row in run.steps] == [1, 2, 3]
    assert run.usage["calls"] == 14
    assert run.best_model == beam_run / "best_model.json"
    saved = json.loads((beam_run / "best_model.json").read_text())["parameters"]
    assert run.best_parameters == saved
    assert {p.step for p in run.proposals} == {1, 2, 3}
    assert run.candidates and run.current in {c.id for c in run.candidates}
    assert run.problems == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: shutil.rmtree(d), "does not exist"),
        (lambda d: [p.unlink() for p in d.iterdir() if p.is_file()], "not an opto training run"),
        (lambda d: (d / "config.json").write_text("{not json"), "config.json is damaged"),
        (lambda d: (d / "config.json").write_text("[1, 2]"), "must be a JSON object"),
        (lambda d: (d / "config.json").write_bytes(b"\xff\xfe\x00bad"), "not UTF-8"),
        (
            lambda d: (d / "checkpoint.json").write_text("[" * 100_000 + "]" * 100_000),
            "checkpoint.json is damaged",
        ),
        (
            lambda d: (d / "checkpoint.json").write_text('{"format": "pickle", "step": 1}'),
            "is not an opto trainer checkpoint",
        ),
        (
            lambda d: (d / "checkpoint.json").write_text(
                '{"format": "opto.trainer.checkpoint/1", "step": "three"}'
            ),
            "has no step number",
        ),
    ],
)
def test_an_unusable_run_directory_is_a_clear_error(beam_run, setup, message):
    setup(beam_run)
    with pytest.raises(RunFileError, match=message):
        read(beam_run)


def test_a_file_that_is_not_an_archive_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(RunFileError, match="not a discovery archive"):
        read(path)
    path.write_text("[" * 100_000)
    with pytest.raises(RunFileError):
        read(path)


def test_torn_and_damaged_log_lines_are_skipped_and_noted(beam_run):
    with open(beam_run / "run.jsonl", "a") as handle:
        handle.write('{"event": "step", "step": 4, "best_sc')  # a kill mid-line
    with open(beam_run / "proposals.jsonl", "a") as handle:
        handle.write("[1, 2]\n\x00\x01garbage\n")
    run = read_run(beam_run)
    assert [row.step for row in run.steps] == [1, 2, 3]
    assert any("run.jsonl: 1 damaged line(s) skipped (line" in p for p in run.problems)
    assert any("proposals.jsonl: 2 damaged line(s)" in p for p in run.problems)


def test_values_of_the_wrong_type_are_ignored_not_trusted(beam_run):
    records = [
        {
            "event": "step",
            "step": 4,
            "train_score": "high",
            "best_score": [1],
            "calls": "x",
            "tokens": None,
            "cost": {"a": 1},
            "best_scores": {"accuracy": "1", "ok": 0.5},
        },
        {"event": "step", "step": "five"},
        {"event": ["stop"], "message": 3},
        {"event": "stop", "step": 4, "message": {"nested": True}},
    ]
    with open(beam_run / "run.jsonl", "a") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in records))
    proposal = {
        "event": "proposal",
        "step": 9,
        "index": 0,
        "parent": "x",
        "child": None,
        "call": {"user_prompt": 5, "refused": [1], "unknown": "abc", "usage": "y"},
        "before": [],
        "after": "z",
        "graph": {"nodes": [{"name": 1}, "x"], "edges": 7},
    }
    with open(beam_run / "proposals.jsonl", "a") as handle:
        handle.write(json.dumps(proposal) + "\n")
    run = read_run(beam_run)
    last = run.steps[-1]
    assert (last.step, last.train, last.best, last.calls, last.cost) == (4, None, None, 0, None)
    assert last.best_scores == {"ok": 0.5}
    assert any("without a step" in p for p in run.problems)
    odd = run.proposals[-1]
    assert (odd.step, odd.parent, odd.after, odd.before) == (9, None, None, {})
    assert odd.call.user_prompt == "5" and odd.call.refused == {} and odd.call.unknown == []
    assert odd.graph is not None and odd.graph.edges == []  # node named 1 kept as text "1"


def test_a_resumed_run_keeps_the_latest_attempt_of_a_repeated_step(beam_run):
    rows = [json.loads(line) for line in (beam_run / "proposals.jsonl").read_text().splitlines()]
    last = rows[-1]["step"]
    again = [
        dict(r, call=dict(r["call"], response=f"second attempt {r['index']}"))
        for r in rows
        if r["step"] == last
    ]
    with open(beam_run / "proposals.jsonl", "a") as handle:  # the step ran again after a kill
        handle.write("".join(json.dumps(r) + "\n" for r in again))
    run = read_run(beam_run)
    repeated = [p.call.response for p in run.proposals if p.step == last]
    assert repeated == [f"second attempt {i}" for i in range(len(again))]
    assert len(run.proposals) == len(rows)


def test_a_damaged_best_model_is_noted_not_fatal(beam_run):
    (beam_run / "best_model.json").write_text("{]")
    run = read_run(beam_run)
    assert run.best_model is None and run.best_parameters == {}
    assert any("best_model.json is damaged" in p for p in run.problems)


def test_a_run_killed_before_its_first_checkpoint(beam_run):
    (beam_run / "checkpoint.json").unlink()
    run = read_run(beam_run)
    assert run.status == "interrupted (no checkpoint)"
