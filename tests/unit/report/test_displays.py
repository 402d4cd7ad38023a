"""How results show themselves in a REPL (``repr``) and a notebook (``_repr_html_``)."""

from __future__ import annotations

import json

import pytest
from report_toys import HOSTILE

from opto.discovery import Archive, ArchiveError, Entry
from opto.optimizers.optimizer import StepResult
from opto.trace import node
from opto.trainer import TrainResult


def test_a_step_result_names_parameters_and_says_what_was_refused():
    x = node(3, trainable=True, name="x")
    code = node("def f():\n" + "    pass\n" * 200, trainable=True, name="code")
    result = StepResult(
        {x: 5, code: "def f(): return 1\n" * 50}, refused={"y0": "not an int"}, unknown=["z"]
    )
    text = repr(result)
    assert text.startswith("StepResult({'x0': 5, 'code0': 'def f(): return 1")
    assert "…" in text and len(text) < 300
    assert text.endswith("refused={'y0': 'not an int'}, unknown=['z'])")
    assert result == {x: 5, code: result[code]}  # still the dict Trace returns
    html = result._repr_html_()
    assert "<table" in html and "refused" in html and "not an int" in html
    empty = StepResult(error=HOSTILE, terminated=True)
    assert repr(empty).startswith("StepResult({}, terminated=True, error=")
    assert HOSTILE not in empty._repr_html_() and "&lt;script&gt;" in empty._repr_html_()


def test_a_train_result_shows_its_scores_usage_and_place():
    result = TrainResult(
        best_parameters={"prompt": HOSTILE * 5, "offset": 4},
        best_score=0.91,
        best_scores={"accuracy": 1.0, "brevity": -0.9},
        train_scores=[0.2, 0.5],
        test_score=0.8,
        steps=2,
        stopped="completed",
        run_dir="runs/exp1",
        usage={
            "calls": 12,
            "cache_hits": 3,
            "prompt_tokens": 900,
            "completion_tokens": 100,
            "tokens": 1000,
            "cost": 0.0123,
        },
    )
    text = repr(result)
    assert text.startswith("TrainResult(best_score=0.91, steps=2, stopped='completed', calls=12,")
    assert "cost=$0.0123" in text and "run_dir='runs/exp1'" in text and len(text) < 400
    summary = result.summary()
    assert "best score  0.91 (accuracy 1, brevity -0.9)" in summary
    assert "calls       12 (+3 from the cache)" in summary
    assert "tokens      1,000 (900 prompt, 100 completion)" in summary
    assert "saved in    runs/exp1" in summary
    html = result._repr_html_()
    assert HOSTILE not in html and "offset" in html and "$0.0123" in html
    scores, test = result  # Trace's unpacking still works
    assert (scores, test) == ([0.2, 0.5], 0.8)


def test_an_archive_shows_its_size_outcomes_and_best(archive_file):
    archive = Archive.load(archive_file)
    assert repr(archive) == (
        f"Archive({str(archive_file)!r}, 6 entries: failed 1, invalid 1, valid 4; "
        "best #5 best_one (0.47))"
    )
    html = archive._repr_html_()
    assert "best_one" in html and HOSTILE not in html


def test_an_archive_with_values_of_the_wrong_type_still_has_a_repr(archive_file):
    data = json.loads(archive_file.read_text())
    data["entries"][0]["status"] = ["not", "a", "string"]
    archive_file.write_text(json.dumps(data))
    with pytest.raises(ArchiveError, match="status"):  # such a file is refused when loaded
        Archive.load(archive_file)
    archive = Archive(  # an archive built in memory is not checked: it must still show itself
        archive_file,
        data["settings"],
        data["system_prompt"],
        [Entry.from_dict(item) for item in data["entries"]],
    )
    assert repr(archive) == f"Archive({str(archive_file)!r}, 6 entries)"
    assert "6" in archive._repr_html_()
