"""The exact metrics on hand-checked distributions."""

import math

import pytest

np = pytest.importorskip("numpy")

from opto.discovery.metrics import (  # noqa: E402
    expected_reward,
    kl_divergence,
    log_softmax,
    optimal_frontier,
    optimal_reward_at_kl,
    preference_accuracy,
    tilted_policy,
    win_rate,
)


def logs(*rows):
    return np.log(np.array(rows, dtype=float))


def test_log_softmax_normalises_and_survives_large_logits():
    out = log_softmax(np.array([[1000.0, 1000.0], [0.0, -1000.0]]))
    assert np.exp(out).sum(axis=1) == pytest.approx([1.0, 1.0])
    assert out[0] == pytest.approx([math.log(0.5)] * 2)
    assert out[1] == pytest.approx([0.0, -1000.0])


def test_reward_and_kl_by_hand():
    policy = logs([0.75, 0.25], [0.5, 0.5])
    reference = logs([0.5, 0.5], [0.5, 0.5])
    reward = np.array([[1.0, -1.0], [2.0, 0.0]])
    assert expected_reward(policy, reward) == pytest.approx((0.5 + 1.0) / 2)
    kl_first = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert kl_divergence(policy, reference) == pytest.approx(kl_first / 2)


def test_kl_and_win_rate_of_the_reference_against_itself():
    rng = np.random.default_rng(0)
    reference = log_softmax(rng.normal(size=(50, 9)))
    reward = rng.normal(size=(50, 9))
    reward[:, 3] = reward[:, 4]  # ties count as half a win
    assert kl_divergence(reference, reference) == 0.0
    assert win_rate(reference, reference, reward) == pytest.approx(0.5, abs=1e-14)


def test_win_rate_by_hand():
    # one prompt, rewards (0, 1, 1): the policy always picks y=1, the reference is uniform
    policy = np.log(np.array([[1e-300, 1.0, 1e-300]]))
    reference = logs([1 / 3, 1 / 3, 1 / 3])
    reward = np.array([[0.0, 1.0, 1.0]])
    # against y'=0 a win, against y'=1 a tie, against y'=2 a tie
    assert win_rate(policy, reference, reward) == pytest.approx((1 + 0.5 + 0.5) / 3)


def test_kl_ignores_zero_probability_responses():
    policy = np.array([[0.0, -math.inf]])
    reference = logs([0.5, 0.5])
    assert kl_divergence(policy, reference) == pytest.approx(math.log(2))


def test_preference_accuracy_counts_pairs_with_positive_rho():
    reference = logs([0.5, 0.25, 0.25])
    policy = logs([0.25, 0.5, 0.25])
    prompts = np.array([0, 0, 0])
    chosen = np.array([1, 0, 2])
    rejected = np.array([0, 1, 0])
    # rho: (log 2 - log 0.5) > 0, negative, (0 - log 0.5) > 0
    assert preference_accuracy(policy, reference, prompts, chosen, rejected) == pytest.approx(2 / 3)


def test_optimal_frontier_is_monotone_and_bounded():
    rng = np.random.default_rng(4)
    reference = log_softmax(rng.normal(size=(30, 6)))
    reward = rng.normal(size=(30, 6))
    kls = np.array([0.0, 0.01, 0.1, 0.5, 1.0, 100.0])
    frontier = optimal_frontier(reference, reward, kls)
    assert frontier[0] == pytest.approx(expected_reward(reference, reward))
    assert np.all(np.diff(frontier) >= -1e-12)
    assert frontier[-1] == pytest.approx(np.mean(reward.max(axis=1)))


def test_optimal_frontier_passes_through_tilted_policies():
    rng = np.random.default_rng(5)
    reference = log_softmax(rng.normal(size=(30, 6)))
    reward = rng.normal(size=(30, 6))
    for t in (0.3, 1.0, 3.0):
        policy = tilted_policy(reference, reward, t)
        kl = kl_divergence(policy, reference)
        best = optimal_reward_at_kl(reference, reward, kl)
        assert best == pytest.approx(expected_reward(policy, reward), abs=1e-9)
    # a random policy is never above the frontier
    other = log_softmax(reference + rng.normal(size=reference.shape))
    gap = optimal_reward_at_kl(reference, reward, kl_divergence(other, reference))
    assert gap >= expected_reward(other, reward)
