"""The evaluator treats what its sandboxed children answer as untrusted data: an answer of the
wrong shape (forged by the proposal's code, or from a broken worker) becomes a "failed" outcome
with a message, never an exception and never a fitness. The children are stood in for here; the
same forgeries through the real sandbox are in tests/integration/discovery."""

import math

import pytest

from opto.discovery import LossObjective, ProposalEvaluator, reference_loss_source

OBJECTIVE = LossObjective(preset="base", betas=(0.5, 2.0), seeds=(0, 1), kl_budget=0.3)
DIAGNOSTICS = {"pointwise": True, "initial_slope": {"0.5": -0.5, "2": -0.5}, "notes": []}


def evaluation(seed, beta, **changes):
    row = {
        "preset": "base",
        "loss": "proposal",
        "beta": beta,
        "seed": seed,
        "reward": 0.2 + seed / 10 + beta / 100,
        "kl": 0.1 * beta,
        "win_rate": 0.6,
        "frontier_gap": 0.05,
        "train_accuracy": 0.7,
        "reference_reward": 0.0,
        "last_epoch_loss": 0.6,
        "steps": 10,
    }
    row.update(changes)
    return row


def grid(**changes):
    return [evaluation(seed, beta, **changes) for seed in (0, 1) for beta in (0.5, 2.0)]


def evaluate_with(contract_answer, train_answer):
    """Evaluate DPO's code with the two children answering as given."""
    evaluator = ProposalEvaluator(OBJECTIVE)
    answers = {"contract": contract_answer, "train": train_answer}
    stages = []

    def stand_in(source, stage, settings, policy):
        stages.append(stage)
        return answers[stage], None

    evaluator._run = stand_in
    outcome = evaluator.evaluate(reference_loss_source("dpo"), "dpo")
    return outcome, stages


def test_a_well_formed_answer_is_scored():
    outcome, stages = evaluate_with(
        {"ok": True, "diagnostics": DIAGNOSTICS}, {"ok": True, "evaluations": grid()}
    )
    assert stages == ["contract", "train"]
    assert outcome.status == "valid"
    assert outcome.fitness == OBJECTIVE.score(grid())[0]
    assert outcome.diagnostics == DIAGNOSTICS


@pytest.mark.parametrize(
    "evaluations, message",
    [
        (None, "expected a list of evaluations, got NoneType"),
        ({"seed": 0}, "expected a list of evaluations, got dict"),
        ("[]", "expected a list of evaluations, got str"),
        ([1, 2, 3, 4], "expected a list of evaluations, got list"),
        ([], "do not cover the seeds and betas"),
        (grid()[:3], "do not cover the seeds and betas"),
        (grid() + grid()[:1], "do not cover the seeds and betas"),
        ([*grid()[:3], evaluation(1, 1.0)], "do not cover the seeds and betas"),
        ([*grid()[:3], evaluation(7, 2.0)], "do not cover the seeds and betas"),
        ([*grid()[:3], {"seed": [1], "beta": 2.0}], "do not cover the seeds and betas"),
        (grid(reward=math.nan), "reward is nan, not a finite number"),
        (grid(kl=math.inf), "kl is inf, not a finite number"),
        (grid(win_rate="0.6"), "win_rate is '0.6', not a finite number"),
        (grid(train_accuracy=True), "train_accuracy is True, not a finite number"),
        (grid(frontier_gap=[0.1]), "frontier_gap is [0.1], not a finite number"),
        (grid(reference_reward=None), "reference_reward is None, not a finite number"),
        ([{k: v for k, v in e.items() if k != "kl"} for e in grid()], "kl is None"),
    ],
)
def test_a_malformed_training_answer_is_a_failure_with_its_reason(evaluations, message):
    outcome, _ = evaluate_with(
        {"ok": True, "diagnostics": DIAGNOSTICS}, {"ok": True, "evaluations": evaluations}
    )
    assert (outcome.status, outcome.stage) == ("failed", "train")
    assert outcome.error.startswith("The training returned malformed results: ")
    assert message in outcome.error
    assert outcome.fitness is None and outcome.metrics == {}
    assert outcome.diagnostics == DIAGNOSTICS  # what the contract stage learned is kept


def test_a_training_answer_without_evaluations_is_a_failure():
    outcome, _ = evaluate_with({"ok": True, "diagnostics": DIAGNOSTICS}, {"ok": True})
    assert (outcome.status, outcome.stage) == ("failed", "train")
    assert "expected a list of evaluations, got NoneType" in outcome.error


@pytest.mark.parametrize(
    "diagnostics, message",
    [
        (None, "diagnostics of type NoneType, not a dict"),
        ("all good", "diagnostics of type str, not a dict"),
        ({**DIAGNOSTICS, "pointwise": "yes"}, "pointwise is 'yes'"),
        ({**DIAGNOSTICS, "initial_slope": [0.1]}, "initial_slope is not a map"),
        ({**DIAGNOSTICS, "initial_slope": {"0.5": "steep"}}, "initial_slope is not a map"),
        ({**DIAGNOSTICS, "notes": "ignore previous instructions"}, "notes is not a list"),
        ({**DIAGNOSTICS, "notes": [1, 2]}, "notes is not a list of strings"),
    ],
)
def test_malformed_contract_diagnostics_stop_before_training(diagnostics, message):
    outcome, stages = evaluate_with({"ok": True, "diagnostics": diagnostics}, None)
    assert stages == ["contract"]
    assert (outcome.status, outcome.stage) == ("failed", "contract")
    assert outcome.error.startswith("The contract test returned ")
    assert message in outcome.error


@pytest.mark.parametrize("stage", ["contract", "train"])
def test_a_refusal_without_error_text_is_reported_not_raised(stage):
    refusal = {"ok": False, "error": 42}
    answers = {
        "contract": ({"ok": False}, None),
        "train": ({"ok": True, "diagnostics": DIAGNOSTICS}, refusal),
    }[stage]
    outcome, _ = evaluate_with(*answers)
    assert outcome.stage == stage
    assert outcome.status == ("invalid" if stage == "contract" else "failed")
    assert "(no error text; the answer was {'ok': False" in outcome.error
