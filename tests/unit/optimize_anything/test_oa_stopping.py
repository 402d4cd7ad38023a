"""optimize_anything: each stop condition, and resuming a run directory after an interruption."""

import time

import pytest
from oa_toys import Proposer, config, length_score

from opto.optimize_anything import NoImprovement, optimize_anything


def run(proposer=None, evaluator=length_score, **engine):
    proposer = proposer or Proposer()
    return optimize_anything("hi", evaluator=evaluator, config=config(proposer, **engine))


def test_max_metric_calls_stops_between_steps():
    result = run(max_metric_calls=5)
    assert result.stopped == "max evaluations"
    assert result.total_metric_calls == 5  # 1 for the seed, then 2 per step
    assert len(result.candidates) == 3


def test_max_candidate_proposals_is_the_number_of_steps():
    proposer = Proposer()
    result = run(proposer, max_candidate_proposals=4)
    assert result.stopped == "completed" and len(proposer.prompts) == 4


def test_max_seconds_stops_a_slow_run():
    def slow(candidate):
        time.sleep(0.05)
        return length_score(candidate)

    result = run(evaluator=slow, max_seconds=0.12, max_candidate_proposals=50)
    assert result.stopped == "time limit"
    assert 1 <= len(result.candidates) <= 3


def test_score_threshold_stops_once_reached():
    result = run(score_threshold=0.45, max_candidate_proposals=50)
    assert result.stopped == "score threshold"
    assert result.best_candidate == "hi!!!"  # 0.5, the first at or above 0.45


def test_patience_stops_when_the_best_does_not_change():
    flat = Proposer(edit=lambda value: value + "?")

    def evaluator(candidate):
        return 1.0 if "?" not in candidate else 0.5

    result = run(flat, evaluator=evaluator, patience=3, max_candidate_proposals=50)
    assert result.stopped == "no improvement"
    assert len(flat.prompts) == 3 and result.best_candidate == "hi"


def test_a_stop_file_ends_the_run_at_the_next_step(tmp_path):
    stop = tmp_path / "STOP"

    def evaluator(candidate):
        if len(candidate) >= 4:
            stop.write_text("enough")
        return length_score(candidate)

    result = run(evaluator=evaluator, stop_file=str(stop), max_candidate_proposals=50)
    assert result.stopped == "stop file"
    assert result.best_candidate == "hi!!"


def test_the_llm_call_budget_stops_mid_step_and_keeps_the_last_complete_step():
    result = run(max_llm_calls=2, max_candidate_proposals=50)
    assert result.stopped == "budget"
    assert result.candidates == ["hi", "hi!", "hi!!"]


def test_the_cost_budget_stops_mid_step_and_keeps_the_last_complete_step():
    priced = Proposer(prices=(1e-5, 1e-5))  # dollars per token
    result = run(priced, max_cost=0.1, max_candidate_proposals=50)
    assert result.stopped == "budget"
    # a call starts only if its worst case fits; the run keeps every step completed before
    assert 1 <= len(result.candidates) - 1 == result.usage["calls"] < 50
    assert 0 < result.usage["cost"] <= 0.1


def test_a_stop_condition_object_can_be_given_directly():
    flat = Proposer(edit=lambda value: value)  # proposes the same value: nothing new
    result = optimize_anything(
        "hi",
        evaluator=length_score,
        config=config(flat, max_candidate_proposals=50),
        stop_conditions=[NoImprovement(2)],
    )
    assert result.stopped == "no improvement" and result.candidates == ["hi"]


def test_a_run_dir_resumes_where_an_interrupted_run_stopped(tmp_path):
    straight = Proposer()
    expected = run(straight, max_candidate_proposals=4)

    first = Proposer()
    interrupted = run(first, max_candidate_proposals=4, max_llm_calls=2, run_dir=str(tmp_path))
    assert interrupted.stopped == "budget" and len(interrupted.candidates) == 3
    second = Proposer()
    resumed = run(second, max_candidate_proposals=4, run_dir=str(tmp_path))
    assert resumed.stopped == "completed"
    assert resumed.candidates == expected.candidates
    assert resumed.parents == expected.parents
    # the interrupted step had run its parent once before the budget stopped it: spent
    assert resumed.total_metric_calls == expected.total_metric_calls + 1
    assert first.prompts[:2] + second.prompts == straight.prompts
    assert resumed.run_dir == str(tmp_path)


def test_a_finished_run_dir_continues_with_a_larger_limit(tmp_path):
    run(max_candidate_proposals=2, run_dir=str(tmp_path))
    proposer = Proposer()
    result = run(proposer, max_candidate_proposals=3, run_dir=str(tmp_path))
    assert result.candidates == ["hi", "hi!", "hi!!", "hi!!!"]
    assert len(proposer.prompts) == 1


def test_a_run_dir_of_another_seed_is_refused(tmp_path):
    from opto.trainer import CheckpointError

    run(max_candidate_proposals=1, run_dir=str(tmp_path))
    with pytest.raises(CheckpointError):
        optimize_anything(
            {"a": "x", "b": "y"},
            evaluator=lambda c: 1.0,
            config=config(Proposer(), max_candidate_proposals=2, run_dir=str(tmp_path)),
        )
