"""Each kind of proposal through the real stages: static checks here, contract tests and
training in the subprocess sandbox. Nothing a proposal does reaches this process."""

import numpy as np
import pytest

from opto.discovery import PreferenceTask, ProposalEvaluator, dpo, reference_loss_source


@pytest.fixture
def evaluate(objective, policies):
    def run(code, static_check=True):
        evaluator = ProposalEvaluator(objective, static_check=static_check, **policies)
        return evaluator.evaluate(code)

    return run


def test_a_valid_loss_gets_fitness_metrics_and_diagnostics(evaluate, objective):
    outcome = evaluate(reference_loss_source("dpo"))
    assert (outcome.status, outcome.stage, outcome.error) == ("valid", None, None)
    assert outcome.fitness["n"] == 2
    assert len(outcome.fitness["per_seed"]) == 2
    assert set(outcome.metrics) == {"0.5", "2"}
    assert outcome.metrics["0.5"]["kl"] > outcome.metrics["2"]["kl"] > 0
    assert outcome.diagnostics["pointwise"] is True
    assert outcome.diagnostics["initial_slope"]["0.5"] == pytest.approx(-0.5, abs=1e-6)
    assert outcome.seconds > 0
    task = PreferenceTask(objective.preset)
    direct = [
        task.evaluate(dpo, beta, seed).to_dict()
        for seed in objective.seeds
        for beta in objective.betas
    ]
    assert outcome.fitness == objective.score(direct)[0]  # the sandbox trains like the task


@pytest.mark.parametrize(
    "body, stage, message",
    [
        ("    return (\n", "static", "SyntaxError at line 3"),
        ("    return np.mean(rho)\n", "contract", "returned shape ()"),
        ("    return np.log(beta * rho)\n", "contract", "non-finite values on finite inputs"),
        (
            "    g = np.exp(beta * rho / 0.05)\n    return (1 - g / (1 + g)) * np.exp(-beta * rho)\n",
            "contract",
            "rho=100",
        ),
        ("    return rho.sort()\n", "contract", "expected real numbers"),
    ],
)
def test_broken_code_is_invalid_with_a_message(evaluate, code, body, stage, message):
    outcome = evaluate(code("broken", body))
    assert (outcome.status, outcome.stage) == ("invalid", stage)
    assert message in outcome.error
    assert outcome.fitness is None


def test_a_wrong_signature_is_invalid_before_running(evaluate):
    outcome = evaluate("def f(x, beta):\n    return x\n")
    assert (outcome.status, outcome.stage) == ("invalid", "static")
    assert "does not define the loss" in outcome.error


def test_an_exception_while_loading_is_invalid(evaluate, code):
    outcome = evaluate("raise ValueError('not today')\n\n" + code("f", "    return rho\n"))
    assert (outcome.status, outcome.stage) == ("invalid", "contract")
    assert "ValueError: not today" in outcome.error


def test_an_endless_loop_is_stopped(evaluate, code):
    outcome = evaluate(code("spin", "    while True:\n        pass\n"))
    assert (outcome.status, outcome.stage) == ("failed", "contract")
    assert "time limit" in outcome.error


def test_a_huge_allocation_is_stopped_at_the_memory_limit(evaluate, code):
    outcome = evaluate(code("hog", "    return np.ones((rho.size, 10**11)).sum(axis=1)\n"))
    assert outcome.status == "failed"
    assert "memory limit of 1 GiB (at line 3 of the code)" in outcome.error


def test_a_write_outside_the_sandbox_is_stopped(evaluate, code, tmp_path):
    target = tmp_path / "stolen.npy"
    outcome = evaluate(code("leak", f"    np.save({str(target)!r}, rho)\n    return rho\n"))
    assert outcome.status == "failed"
    assert "forbidden operation (at line 3 of the code)" in outcome.error
    assert not target.exists()


@pytest.mark.parametrize(
    "header, body, message",
    [
        ("import os\n", "    os._exit(3)\n", "ended abnormally"),
        ("import socket\n", "    socket.create_connection(('127.0.0.1', 9))\n", "network access"),
        ("import subprocess\n", "    subprocess.run(['true'])\n", "another process"),
    ],
)
def test_hostile_imports_are_refused_statically_and_contained_without_the_check(
    evaluate, code, header, body, message
):
    source = code("hostile", body, header=header)
    refused = evaluate(source)
    assert (refused.status, refused.stage) == ("invalid", "static")
    assert "refused by the safety check" in refused.error
    contained = evaluate(source, static_check=False)
    assert (contained.status, contained.stage) == ("failed", "contract")
    assert message in contained.error


def test_the_code_never_runs_in_this_process(evaluate, code):
    outcome = evaluate("np.opto_was_here = True\n\n" + code("f", "    return -rho\n"))
    assert outcome.status == "valid"
    assert not hasattr(np, "opto_was_here")


def test_a_loss_that_breaks_only_in_training_fails_at_the_training_stage(evaluate, code):
    # Finite on the contract's batches (at most 10 pairs), NaN on training batches of 32.
    body = "    return np.where(rho.size > 20, np.nan, np.logaddexp(0.0, -beta * rho))\n"
    outcome = evaluate(code("late_nan", body))
    assert (outcome.status, outcome.stage) == ("failed", "train")
    assert outcome.error.startswith("Training failed: training diverged at beta=0.5, seed 0")
    assert outcome.diagnostics["pointwise"] is True


FORGE = """\
import opto.discovery.worker as worker

_honest = worker.run_stage


def _forged(loss, stage, settings):
    answer = _honest(loss, stage, settings)
    if stage == {stage!r}:
        answer[{key!r}] = {value}
    return answer


worker.run_stage = _forged

"""


@pytest.mark.parametrize(
    "stage, key, value, message",
    [
        ("train", "evaluations", "[{'seed': 0, 'beta': 0.5}]", "do not cover the seeds and betas"),
        (
            "train",
            "evaluations",
            "[dict(e, reward=float('nan')) for e in answer['evaluations']]",
            "reward is nan, not a finite number",
        ),
        ("train", "evaluations", "'9.9'", "expected a list of evaluations, got str"),
        ("contract", "diagnostics", "{'notes': 'obey me'}", "malformed diagnostics"),
    ],
)
def test_a_forged_answer_from_the_sandbox_is_a_failure(evaluate, code, stage, key, value, message):
    # Without the static check the code can replace the worker inside its own child process;
    # what comes back is then only data, and refused.
    forge = FORGE.format(stage=stage, key=key, value=value)
    outcome = evaluate(forge + code("forger", "    return np.logaddexp(0.0, -beta * rho)\n"), False)
    assert (outcome.status, outcome.stage) == ("failed", stage)
    assert message in outcome.error
    assert outcome.fitness is None


def test_the_default_warm_policies_score_exactly_like_cold_children(objective, policies):
    """The default policies run each stage in a child started ahead with numpy and the driver
    imported; the outcome is the one of children started for the call."""
    code = reference_loss_source("dpo")
    cold = ProposalEvaluator(objective, **policies).evaluate(code)
    evaluator = ProposalEvaluator(objective)
    with evaluator.contract_policy, evaluator.training_policy:
        assert evaluator.contract_policy.warm_workers == evaluator.training_policy.warm_workers == 1
        assert evaluator.contract_policy.warm_up() and evaluator.training_policy.warm_up()
        warm = evaluator.evaluate(code)
    assert warm.status == cold.status == "valid"
    assert (warm.fitness, warm.metrics, warm.diagnostics) == (
        cold.fitness,
        cold.metrics,
        cold.diagnostics,
    )
