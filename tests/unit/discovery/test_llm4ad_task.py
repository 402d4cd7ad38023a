"""LLM4AD tasks run as discovery tasks: the suite's own instances and scorer, the code sandboxed.

These need the ``tasks`` extra (llm4ad), which the dev extra includes.
"""

import json
import sys

import numpy as np
import pytest

from opto.discovery.suites import LLM4ADTask, SuiteUnavailableError, TaskResult
from opto.discovery.suites.llm4ad import _read_answer
from opto.runtime import SubprocessPolicy
from opto.utils.errors import OptoError

SMALL_BINS = {"n_instances": 2, "n_items": 300}
FIRST_FIT = """\
import numpy as np

def priority(item, bins):
    return -np.arange(len(bins), dtype=float)
"""
DIVIDES_BY_ZERO = """\
import numpy as np

def priority(item, bins):
    spare = bins - item
    return 1 // 0 + spare
"""


@pytest.fixture(scope="module")
def bins():
    return LLM4ADTask("online_bin_packing", options=SMALL_BINS)


@pytest.fixture(scope="module")
def seed_result(bins):
    return bins.evaluate(bins.seed_code)


def suite_score(function, **options):
    """The suite's own number for a trusted function, computed in this process."""
    from llm4ad.task.optimization.online_bin_packing import OBPEvaluation

    return OBPEvaluation(**options).evaluate_program("", function)


def test_the_task_is_the_suites_template_description_and_evaluator(bins):
    assert bins.function_name == "priority"
    assert bins.evaluation == "OBPEvaluation"
    assert "def priority(item: float, bins: np.ndarray)" in bins.seed_code
    assert "priority with which we want to add an item" in bins.description
    assert bins.options == {
        "timeout_seconds": 30,
        "n_instances": 2,
        "n_items": 300,
        "capacity": 100,
    }
    assert bins.failure_score == -300.0  # every item in a bin of its own
    assert bins.to_dict()["suite"] == "llm4ad"


def test_the_seed_heuristic_scores_what_the_suite_scores_it(seed_result):
    result = seed_result
    assert result.status == "valid", result.error
    expected = suite_score(lambda item, spare: item - spare, **SMALL_BINS)
    assert result.score == pytest.approx(float(expected))
    assert -300 < result.score < -100  # minus the mean number of bins used


def test_first_fit_packs_worse_than_the_seeds_best_fit(bins, seed_result):
    best_fit = seed_result.score
    first_fit = bins.evaluate(FIRST_FIT)
    assert first_fit.status == "valid"
    assert first_fit.score == pytest.approx(
        float(suite_score(lambda item, spare: -np.arange(len(spare), dtype=float), **SMALL_BINS))
    )
    assert first_fit.score < best_fit


def test_a_broken_heuristic_is_invalid_with_its_line_and_ranked_at_the_floor(bins):
    score, info = bins(DIVIDES_BY_ZERO)
    assert (info["status"], info["stage"]) == ("invalid", "evaluate")
    assert "score" not in info
    assert "ZeroDivisionError" in info["error"]
    assert "1 // 0" in info["error"]  # the line of the candidate
    assert score == bins.failure_score == -300.0
    assert "ranked at -300" in info["feedback"]


def test_code_is_refused_before_running_when_it_cannot_be_the_heuristic(bins):
    imports_os = "import os\n\ndef priority(item, bins):\n    return os.getpid() - bins\n"
    refused = bins.evaluate(imports_os)
    assert (refused.status, refused.stage) == ("invalid", "static")
    assert "import of 'os' is not allowed" in refused.error
    renamed = bins.evaluate("def score(item, bins):\n    return -bins\n")
    assert (renamed.status, renamed.stage) == ("invalid", "static")
    assert "`priority`" in renamed.error and "score" in renamed.error
    broken = bins.evaluate("def priority(item, bins)\n    return bins\n")
    assert broken.stage == "static" and broken.error.startswith("SyntaxError at line 1")
    assert bins.evaluate(None).stage == "static"  # not even a string


def test_the_suites_scorer_refusing_a_tour_makes_it_invalid():
    tours = LLM4ADTask("tsp_construct", options={"n_instance": 2, "problem_size": 12})
    assert tours.failure_score == pytest.approx(-12 * 2**0.5)
    nearest = tours.evaluate(tours.seed_code)  # the neighbours come sorted: nearest neighbour
    assert nearest.status == "valid" and -12 < nearest.score < 0
    revisits = tours.evaluate(
        "def select_next_node(current, destination, unvisited, d):\n    return 0\n"
    )
    assert revisits.status == "invalid"
    assert "refused it" in revisits.error and "returned no score" in revisits.error


def test_an_endless_heuristic_is_stopped_by_the_sandbox():
    task = LLM4ADTask(
        "online_bin_packing",
        options=SMALL_BINS,
        policy=SubprocessPolicy(wall_time=20, cpu_time=8, memory="2GiB", echo_output=False),
    )
    result = task.evaluate("def priority(item, bins):\n    while True:\n        pass\n")
    assert (result.status, result.stage) == ("failed", "evaluate")
    assert "time limit" in result.error
    assert "not a writable directory" not in result.error  # matplotlib's noise stays out


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("a string", "The sandbox returned 'a string'"),
        ({"ok": "yes"}, "The sandbox returned"),
        ({"ok": True, "score": float("nan")}, "score nan"),
        ({"ok": True, "score": True}, "score True"),
        ({"ok": True}, "score None"),
    ],
)
def test_a_malformed_answer_from_the_child_is_a_failure_not_a_score(answer, says):
    result = _read_answer(answer)
    assert result.status == "failed" and result.score is None
    assert says in result.error


def test_a_refusal_from_the_child_is_read_as_text_whatever_it_holds():
    assert _read_answer({"ok": False, "error": ["x"]}).error.endswith("(no reason given).")
    assert _read_answer({"ok": True, "score": 3}).score == 3.0


def test_settings_are_checked_before_anything_runs(monkeypatch):
    with pytest.raises(ValueError, match="unknown option"):
        LLM4ADTask("online_bin_packing", options={"n_item": 10})
    with pytest.raises(ValueError, match="not 'Bin Packing'"):
        LLM4ADTask("Bin Packing")
    with pytest.raises(SuiteUnavailableError, match="no task module"):
        LLM4ADTask("no_such_task")
    with pytest.raises(ValueError, match="failure_score"):
        LLM4ADTask("knapsack_construct")  # no known worst score: the caller must choose one
    with pytest.raises(ValueError, match="finite"):
        LLM4ADTask("online_bin_packing", failure_score=float("-inf"))
    for name in [m for m in sys.modules if m == "llm4ad" or m.startswith("llm4ad.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "llm4ad", None)  # as if it were not installed
    with pytest.raises(SuiteUnavailableError, match=r"pip install 'opto\[tasks\]'") as caught:
        LLM4ADTask("online_bin_packing")
    assert isinstance(caught.value, ImportError)
    assert isinstance(caught.value, OptoError)


def test_task_results_keep_their_invariants():
    with pytest.raises(ValueError):
        TaskResult("valid")
    with pytest.raises(ValueError):
        TaskResult("invalid", score=1.0)
    with pytest.raises(ValueError):
        TaskResult("crashed")
    assert TaskResult("valid", -3.0).feedback() == "Score: -3 (higher is better)."


def test_a_scripted_optimizer_run_keeps_the_seed_over_worse_and_broken_proposals(
    bins, seed_result, tmp_path
):
    from opto.llm import ScriptedLLM
    from opto.optimizers import OptoPrime
    from opto.trace import node
    from opto.trainer import train

    code = node(bins.seed_code, trainable=True, name="heuristic", description=bins.describe())
    key = code.py_name  # the name the optimizer's prompt shows: heuristic0
    llm = ScriptedLLM(
        [
            json.dumps({"reasoning": "first fit", "suggestion": {key: FIRST_FIT}}),
            json.dumps({"reasoning": "spare", "suggestion": {key: DIVIDES_BY_ZERO}}),
        ]
    )
    feedback = []

    def metric(response, reference):
        score, info = bins(response)
        feedback.append(info["feedback"])
        return score, info["feedback"]

    result = train(
        model=code,
        train_dataset={"inputs": [bins.name], "infos": [None]},
        guide=metric,
        optimizer=OptoPrime([code], llm=llm),
        num_steps=2,
        ensure_improvement=True,
        run_dir=tmp_path / "run",
        logger="NullLogger",
    )
    assert result.best_score == pytest.approx(seed_result.score)
    assert code.data == bins.seed_code  # neither proposal was kept
    assert any("ZeroDivisionError" in text for text in feedback), feedback
    assert "Score: " in llm.requests[0]["messages"][-1]["content"]  # the suite's score fed back
