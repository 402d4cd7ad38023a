"""optimize_anything with code components: the evaluator gets functions, loaded by a policy."""

import pytest
from oa_toys import Proposer, config

from opto.optimize_anything import optimize_anything

SEED = "def double(x):\n    return x + x\n"
BETTER = "def double(x):\n    return 2 * x + 1\n"


def scored_on_points(solve):
    errors = sum(abs(solve(x) - (2 * x + 1)) for x in range(5))
    return -errors, {"errors": errors}


def proposals(*sources):
    remaining = list(sources)
    return Proposer(edit=lambda value: remaining.pop(0))


def test_the_evaluator_gets_the_function_and_a_better_one_wins():
    proposer = proposals(BETTER)
    result = optimize_anything(
        SEED,
        evaluator=scored_on_points,
        code_components=True,
        config=config(proposer, max_candidate_proposals=1),
    )
    assert result.best_candidate == BETTER
    assert result.val_aggregate_scores == [-5.0, 0.0]
    assert "Python source defining a function" in proposer.prompts[0]


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("def double(x) return x", "does not parse"),
        ("x = 3", "defines no top-level function"),
        ("def a(x):\n    return x\ndef b(x):\n    return x\n", "defines several functions"),
        ("def double(x):\n    return x / 0\n", "ZeroDivisionError"),
    ],
)
def test_broken_code_is_a_failed_evaluation_whose_message_is_fed_back(broken, message):
    proposer = proposals(broken, BETTER)
    result = optimize_anything(
        SEED,
        evaluator=scored_on_points,
        code_components=True,
        config=config(proposer, max_candidate_proposals=2, failure_score=-100),
    )
    assert result.candidates == [SEED, broken, BETTER]
    assert result.val_aggregate_scores == [-5.0, -100.0, 0.0]


def test_code_can_be_one_component_of_several():
    def evaluator(candidate):
        return scored_on_points(candidate["solver"])[0] + len(candidate["notes"]) / 100

    result = optimize_anything(
        {"solver": SEED, "notes": "n"},
        evaluator=evaluator,
        code_components=["solver"],
        config=config(proposals(BETTER), max_candidate_proposals=1),
    )
    assert result.best_candidate == {"solver": BETTER, "notes": "n"}


def test_code_runs_in_the_sandbox_with_the_subprocess_policy():
    def evaluator(solve):
        return float(solve(0) == 1), {"pid_differs": solve(-1) != -1}

    escaping = "def double(x):\n    import os\n    os.system('true')\n    return 1\n"
    result = optimize_anything(
        SEED,
        evaluator=evaluator,
        code_components=True,
        policy="subprocess",
        config=config(proposals(escaping), max_candidate_proposals=1),
    )
    assert result.val_aggregate_scores == [0.0, 0.0]  # the escape was refused, not run


def test_unknown_code_component_names_are_refused():
    with pytest.raises(ValueError, match="not components"):
        optimize_anything(
            {"a": SEED},
            evaluator=scored_on_points,
            code_components=["b"],
            config=config(Proposer(), max_candidate_proposals=1),
        )
