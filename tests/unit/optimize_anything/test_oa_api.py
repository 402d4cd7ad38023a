"""optimize_anything: GEPA's call shape and result fields, on the trainer's loop."""

import json

import pytest
from oa_toys import Proposer, config, length_score

import opto
import opto.optimize_anything as oa
from opto.optimize_anything import optimize_anything


def test_the_module_is_callable_and_is_the_function_opentrace_names():
    assert opto.optimize_anything is oa
    assert callable(oa)
    proposer = Proposer()
    result = opto.optimize_anything(
        "hi", evaluator=length_score, config=config(proposer, max_candidate_proposals=2)
    )
    assert result.best_candidate == "hi!!"


def test_a_string_seed_improves_and_the_result_has_gepa_fields():
    proposer = Proposer()
    result = optimize_anything(
        "hi", evaluator=length_score, config=config(proposer, max_candidate_proposals=3)
    )
    assert result.candidates == ["hi", "hi!", "hi!!", "hi!!!"]
    assert result.parents == [[None], [0], [1], [2]]
    assert result.val_aggregate_scores == pytest.approx([0.2, 0.3, 0.4, 0.5])
    assert result.best_idx == 3 and result.best_score == pytest.approx(0.5)
    assert result.per_val_instance_best_candidates == {0: {3}}
    assert result.num_candidates == 4 and result.num_val_instances == 1
    assert result.num_full_val_evals == 4
    # each step runs the parent once (for its feedback) and validates the child once
    assert result.total_metric_calls == 1 + 3 * 2
    assert result.stopped == "completed"
    assert result.usage["calls"] == 3
    json.dumps(result.to_dict())


def test_side_info_log_and_printed_output_are_the_feedback():
    def evaluator(candidate):
        oa.log("checked", repr(candidate))
        print("training loss 0.25")
        return 0.5, {"metrics": {"loss": 0.25}, "hint": "shorter is not better"}

    proposer = Proposer()
    optimize_anything(
        "seed",
        evaluator=evaluator,
        objective="make the loss small",
        background="the loss is a toy",
        config=config(proposer, max_candidate_proposals=1, capture_stdio=True),
    )
    prompt = proposer.prompts[0]
    feedback = prompt.rsplit("#Feedback", 1)[1]
    assert "Score: 0.5" in feedback
    assert "metrics: {'loss': 0.25}" in feedback
    assert "hint: shorter is not better" in feedback
    assert "log: checked 'seed'" in feedback
    assert "stdout:\ntraining loss 0.25" in feedback
    documentation = prompt.split("#Documentation")[1].split("#Variables")[0]
    assert "Objective: make the loss small" in documentation
    assert "Background: the loss is a toy" in documentation


def test_an_evaluator_that_raises_scores_the_failure_score_with_its_traceback():
    def evaluator(candidate):
        if not candidate.endswith("!"):
            raise ZeroDivisionError("the candidate divided by zero")
        return 1.0

    proposer = Proposer()
    result = optimize_anything(
        "x",
        evaluator=evaluator,
        config=config(proposer, max_candidate_proposals=1, failure_score=-1),
    )
    assert result.val_aggregate_scores == [-1.0, 1.0]
    assert result.best_candidate == "x!"
    feedback = proposer.prompts[0].rsplit("#Feedback", 1)[1]
    assert "Score: -1" in feedback
    assert "ZeroDivisionError: the candidate divided by zero" in feedback
    assert "Traceback" in feedback


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (float("nan"), "nan as the score; it must be a finite number"),
        ("0.9", "'0.9' as the score"),
        ((1.0, ["not", "a", "dict"]), "side info of type list"),
        (True, "True as the score"),
    ],
)
def test_an_unusable_return_value_is_a_failure_that_says_why(returned, message):
    def evaluator(candidate):
        return returned if candidate == "x" else 0.5

    proposer = Proposer()
    result = optimize_anything(
        "x", evaluator=evaluator, config=config(proposer, max_candidate_proposals=1)
    )
    assert result.val_aggregate_scores == [0.0, 0.5]
    assert message in proposer.prompts[0].rsplit("#Feedback", 1)[1]


def test_a_dict_seed_with_a_dataset_scores_each_validation_example():
    def evaluator(candidate, example):
        return float(candidate["greeting"].count("!") >= example), {"needed": example}

    proposer = Proposer()
    result = optimize_anything(
        {"greeting": "hello", "name": "world"},
        evaluator=evaluator,
        dataset=[1, 2],
        valset=[0, 1, 2, 3],
        config=config(
            proposer,
            max_candidate_proposals=3,
            reflection_minibatch_size=2,
            candidate_selection_strategy="current_best",
        ),
    )
    assert result.candidates[0] == {"greeting": "hello", "name": "world"}
    assert result.best_candidate["greeting"].startswith("hello!")
    assert result.best_candidate["name"] == "world"
    assert result.val_subscores[0] == {0: 1.0, 1: 0.0, 2: 0.0, 3: 0.0}
    assert result.num_val_instances == 4
    assert 0 in result.per_val_instance_best_candidates[0]


def test_a_child_that_does_not_beat_its_parent_on_its_minibatch_is_not_validated():
    def evaluator(candidate, example):
        return 0.5  # nothing a proposal does helps

    proposer = Proposer()
    result = optimize_anything(
        "x",
        evaluator=evaluator,
        dataset=[1, 2, 3],
        config=config(proposer, max_candidate_proposals=2, reflection_minibatch_size=1),
    )
    assert result.candidates == ["x"]


def test_a_proposal_equal_to_a_kept_candidate_is_not_evaluated_again():
    proposer = Proposer(edit=lambda value: "same")
    result = optimize_anything(
        "x", evaluator=length_score, config=config(proposer, max_candidate_proposals=3)
    )
    assert result.candidates == ["x", "same"]
    assert result.total_metric_calls == 1 + 2 + 1 + 1  # no validation for the repeats


def test_without_any_limit_the_call_is_refused():
    with pytest.raises(ValueError, match="needs a limit"):
        optimize_anything("x", evaluator=length_score, config=config(Proposer()))


@pytest.mark.parametrize("seed", [None, {}, {"a": 1}, ["a"]])
def test_a_seed_that_is_not_text_is_refused(seed):
    with pytest.raises(TypeError, match="seed_candidate"):
        optimize_anything(
            seed, evaluator=length_score, config=config(Proposer(), max_candidate_proposals=1)
        )
