"""The synthetic preference task: determinism, training, presets, errors."""

import dataclasses
import subprocess
import sys

import pytest

np = pytest.importorskip("numpy")

from opto.discovery import (  # noqa: E402
    PRESETS,
    LossContractError,
    PreferenceConfig,
    PreferenceTask,
    TrainingDivergedError,
    dpo,
    kto_pair,
    lrml,
    make_world,
    measure,
    train_policy,
)
from opto.discovery.metrics import expected_reward  # noqa: E402
from opto.discovery.preference_task import loss_gradient, policy_log_probs  # noqa: E402

SMALL = PreferenceConfig(n_prompts=40, n_responses=6, n_pairs=300, epochs=3, batch_size=32)


def test_world_is_deterministic_for_a_seed():
    first, second = make_world(PRESETS["base"], 3), make_world(PRESETS["base"], 3)
    for field in ("features", "reference_logits", "reward", "prompts", "chosen", "rejected"):
        assert np.array_equal(getattr(first, field), getattr(second, field))
    other = make_world(PRESETS["base"], 4)
    assert not np.array_equal(first.reward, other.reward)


def test_world_reward_is_standardised_under_the_reference_and_labels_are_noisy():
    world = make_world(PRESETS["base"], 0)
    probs = np.exp(world.reference_log_probs)
    assert expected_reward(world.reference_log_probs, world.reward) == pytest.approx(0, abs=1e-12)
    assert np.mean(np.sum(probs * world.reward**2, axis=1)) == pytest.approx(1.0)
    assert np.all(world.chosen != world.rejected)
    assert 0.6 < world.label_agreement < 0.85
    noisy = make_world(PRESETS["noisy"], 0)
    assert noisy.label_agreement < world.label_agreement


def test_evaluation_is_deterministic():
    task = PreferenceTask("base")
    assert task.evaluate(lrml, 0.5, seed=1) == PreferenceTask("base").evaluate(lrml, 0.5, seed=1)


def test_reference_policy_scores_exactly_neutral():
    world = make_world(PRESETS["base"], 2)
    metrics = measure(world, world.reference_log_probs)
    assert metrics["kl"] == 0.0
    assert metrics["win_rate"] == pytest.approx(0.5, abs=1e-14)
    assert metrics["reward"] == metrics["reference_reward"]
    assert metrics["frontier_gap"] == pytest.approx(0.0, abs=1e-12)


def test_dpo_raises_true_reward_on_the_default_preset():
    task = PreferenceTask("base")
    for seed in range(3):
        result = task.evaluate(dpo, 0.1, seed=seed)
        assert result.reward > result.reference_reward + 0.5
        assert result.win_rate > 0.6
        assert result.kl > 0
        assert result.frontier_gap >= 0
        assert result.loss == "dpo" and result.preset == "base" and result.steps == 3 * 47


def test_lrml_at_tiny_beta_learns_the_inverted_preference():
    """DiscoPOP's failure mode: from rho = 0 its first steps push pairs the wrong way."""
    result = PreferenceTask("base").evaluate(lrml, 0.01, seed=0)
    assert result.reward < result.reference_reward
    assert result.train_accuracy < 0.5


def test_overfit_preset_lets_the_policy_memorise_the_pairs():
    memorising = PreferenceTask("overfit").evaluate(dpo, 1.0, seed=0)
    assert memorising.train_accuracy > 0.95
    log_linear = PreferenceTask("base").evaluate(dpo, 1.0, seed=0)
    world = PreferenceTask("base").world(0)
    assert log_linear.train_accuracy < world.label_agreement + 0.05


def test_gradient_matches_finite_differences_of_the_mean_loss():
    world = make_world(dataclasses.replace(SMALL, tabular=True), 0)
    rng = np.random.default_rng(1)
    weights = rng.normal(size=world.config.n_features)
    residual = rng.normal(size=world.reference_logits.shape)
    batch = np.arange(20)

    def mean_loss(w, u):
        log_probs = policy_log_probs(world, w, u)
        p, c, r = world.prompts[batch], world.chosen[batch], world.rejected[batch]
        ref = world.reference_log_probs
        return kto_pair(log_probs[p, c], log_probs[p, r], ref[p, c], ref[p, r], 0.7).mean()

    _, d_weights, d_residual = loss_gradient(
        world, kto_pair, 0.7, batch, weights, residual, pointwise=False
    )
    h = 1e-6
    for k in range(world.config.n_features):
        step = np.zeros_like(weights)
        step[k] = h
        slope = (mean_loss(weights + step, residual) - mean_loss(weights - step, residual)) / (
            2 * h
        )
        assert d_weights[k] == pytest.approx(slope, rel=1e-5, abs=1e-9)
    cell = (world.prompts[0], world.chosen[0])
    step = np.zeros_like(residual)
    step[cell] = h
    slope = (mean_loss(weights, residual + step) - mean_loss(weights, residual - step)) / (2 * h)
    assert d_residual[cell] == pytest.approx(slope, rel=1e-5, abs=1e-9)


def test_batch_coupled_loss_trains_and_pointwise_paths_agree():
    world = make_world(SMALL, 0)
    kto = train_policy(world, kto_pair, 0.5)
    assert expected_reward(kto.log_probs, world.reward) > 0.2
    fast = train_policy(world, dpo, 0.5, pointwise=True)
    slow = train_policy(world, dpo, 0.5, pointwise=False)
    assert np.allclose(fast.log_probs, slow.log_probs, atol=1e-8)


def test_divergence_is_a_typed_error():
    def explodes(pc, pr, rc, rr, beta):
        rho = (pc - rc) - (pr - rr)
        return np.where(np.abs(rho) > 3.0, np.nan, -beta * rho)

    with pytest.raises(TrainingDivergedError, match="non-finite") as info:
        train_policy(make_world(SMALL, 0), explodes, 1.0)
    assert info.value.step > 0


def test_contract_is_checked_before_training():
    def reduced(pc, pr, rc, rr, beta):
        return float(np.mean(pc - pr))

    with pytest.raises(LossContractError, match="shape"):
        PreferenceTask(SMALL).evaluate(reduced, 0.1)


def test_bad_presets_configs_and_seeds_are_rejected():
    with pytest.raises(KeyError, match="known"):
        PreferenceTask("nope")
    with pytest.raises(ValueError, match="n_pairs"):
        PreferenceConfig(n_pairs=1)
    with pytest.raises(ValueError, match="label_flip_rate"):
        PreferenceConfig(label_flip_rate=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        PreferenceConfig(learning_rate=0)
    with pytest.raises(ValueError, match="seed"):
        make_world(SMALL, -1)
    with pytest.raises(ValueError, match="beta"):
        PreferenceTask(SMALL).evaluate(dpo, 0.0)


def test_import_opto_does_not_import_discovery():
    code = "import sys, opto; print('opto.discovery' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
