"""Exact metrics of a policy over a finite response set: no sampling, so no metric noise.

A policy is a (prompts, responses) array of log-probabilities; prompts are weighted uniformly.
"""

from __future__ import annotations

import numpy as np

MAX_INVERSE_TEMPERATURE = 1e6


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, stable for any finite logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def expected_reward(log_probs: np.ndarray, reward: np.ndarray) -> float:
    """E_x E_{y ~ pi(.|x)} r(x, y): the mean true ``reward`` of the policy whose
    log-probabilities are ``log_probs`` (both indexed [prompt, response])."""
    return float(np.mean(np.sum(np.exp(log_probs) * reward, axis=1)))


def kl_divergence(log_probs: np.ndarray, reference_log_probs: np.ndarray) -> float:
    """E_x KL(pi(.|x) || pi_ref(.|x)), in nats, of the policy ``log_probs`` from the
    reference ``reference_log_probs``; responses with pi = 0 contribute 0."""
    probs = np.exp(log_probs)
    with np.errstate(invalid="ignore"):
        terms = np.where(probs > 0, probs * (log_probs - reference_log_probs), 0.0)
    return float(np.mean(terms.sum(axis=1)))


def win_rate(log_probs: np.ndarray, reference_log_probs: np.ndarray, reward: np.ndarray) -> float:
    """P(r(x, y) > r(x, y')) for y ~ pi, y' ~ pi_ref, ties counted as half a win: how often
    the policy ``log_probs`` beats the reference ``reference_log_probs`` on the true
    ``reward``."""
    difference = reward[:, :, None] - reward[:, None, :]
    score = (difference > 0) + 0.5 * (difference == 0)
    wins = np.einsum(
        "py,pyz,pz->p", np.exp(log_probs), score, np.exp(reference_log_probs), optimize=True
    )
    return float(np.mean(wins))


def preference_accuracy(
    log_probs: np.ndarray,
    reference_log_probs: np.ndarray,
    prompts: np.ndarray,
    chosen: np.ndarray,
    rejected: np.ndarray,
) -> float:
    """Fraction of pairs with rho > 0, i.e. ranked the labelled way relative to the reference.

    The pairs are given by ``prompts``, ``chosen`` and ``rejected`` (indices); ``log_probs``
    is the policy and ``reference_log_probs`` the reference.
    """
    implicit = log_probs - reference_log_probs
    rho = implicit[prompts, chosen] - implicit[prompts, rejected]
    return float(np.mean(rho > 0))


def tilted_policy(
    reference_log_probs: np.ndarray, reward: np.ndarray, inverse_temperature: float
) -> np.ndarray:
    """pi_t(y|x) proportional to pi_ref(y|x) exp(t r(x, y)): the KL-regularised optimum, as
    log-probabilities, for the reference ``reference_log_probs``, the true ``reward`` and
    t = ``inverse_temperature``."""
    return log_softmax(reference_log_probs + inverse_temperature * reward)


def _greedy_policy(reference_log_probs: np.ndarray, reward: np.ndarray) -> np.ndarray:
    """The t -> infinity limit: pi_ref restricted to each prompt's best responses."""
    best = reward >= reward.max(axis=1, keepdims=True)
    masked = np.where(best, reference_log_probs, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    log_norm = top + np.log(np.exp(masked - top).sum(axis=1, keepdims=True))
    return np.where(best, masked - log_norm, -np.inf)


def optimal_reward_at_kl(
    reference_log_probs: np.ndarray, reward: np.ndarray, kl: float, iterations: int = 100
) -> float:
    """The highest expected reward of any policy with KL(pi || pi_ref) <= kl.

    The optimum is the tilted policy pi_t; its KL and reward both grow with t, so t is found by
    bisection (``iterations`` halvings). Beyond the greedy policy's KL the answer is the
    greedy policy's reward. ``reference_log_probs`` is pi_ref and ``reward`` the true reward.
    """
    if kl <= 0:
        return expected_reward(reference_log_probs, reward)
    greedy = _greedy_policy(reference_log_probs, reward)
    if kl >= kl_divergence(greedy, reference_log_probs):
        return expected_reward(greedy, reward)
    low, high = 0.0, 1.0
    while kl_divergence(tilted_policy(reference_log_probs, reward, high), reference_log_probs) < kl:
        if high > MAX_INVERSE_TEMPERATURE:
            return expected_reward(greedy, reward)
        low, high = high, 2.0 * high
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        policy = tilted_policy(reference_log_probs, reward, middle)
        if kl_divergence(policy, reference_log_probs) < kl:
            low = middle
        else:
            high = middle
    return expected_reward(tilted_policy(reference_log_probs, reward, low), reward)


def optimal_frontier(
    reference_log_probs: np.ndarray, reward: np.ndarray, kls: np.ndarray
) -> np.ndarray:
    """:func:`optimal_reward_at_kl` of ``reference_log_probs`` and ``reward`` at each KL in
    ``kls`` (for plotting the frontier)."""
    return np.array([optimal_reward_at_kl(reference_log_probs, reward, float(k)) for k in kls])
