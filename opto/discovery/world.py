"""The synthetic preference world: prompts, responses, a reference policy, a hidden reward, pairs.

A miniature of RLHF preference data small enough to train on in milliseconds and to measure
exactly. Each prompt has a finite set of responses with feature vectors phi(x, y). The frozen
reference policy is a softmax over a random linear function of phi plus noise, unrelated to the
reward. The hidden true reward is phi . w* plus a per-response part phi cannot express
(misspecification), normalised to mean 0 and unit standard deviation under the reference. Pairs
are two distinct responses sampled from the reference and labelled by Bradley-Terry with the true
reward: P(y1 preferred) = sigma(kappa (r1 - r2)), optionally with random label flips.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from opto.discovery.metrics import log_softmax

MINIMUM_SIZES = {
    "n_prompts": 1,
    "n_responses": 2,
    "n_features": 1,
    "n_pairs": 2,
    "epochs": 1,
    "batch_size": 2,
}


@dataclass(frozen=True)
class PreferenceConfig:
    """Sizes, label noise, policy capacity and optimiser of one preference task.

    Sizes: ``n_prompts`` prompts with ``n_responses`` responses each, described by
    ``n_features`` features; ``n_pairs`` labelled preference pairs. ``misspecification`` is
    the weight of the part of the true reward the features cannot express and
    ``reference_noise`` that of the reference policy's noise. Labels: ``label_sharpness`` is
    the Bradley-Terry kappa (higher: labels follow the reward more often) and
    ``label_flip_rate`` the share of labels flipped at random. ``tabular`` adds a free logit
    per (prompt, response), so the policy can memorise pairs. Training: ``epochs`` passes of
    minibatch Adam with ``batch_size`` pairs and ``learning_rate``.
    """

    n_prompts: int = 200
    n_responses: int = 16
    n_features: int = 8
    misspecification: float = 0.5
    reference_noise: float = 0.5
    n_pairs: int = 3000
    label_sharpness: float = 1.0
    label_flip_rate: float = 0.0
    tabular: bool = False
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 0.05

    def __post_init__(self) -> None:
        for name, least in MINIMUM_SIZES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(
                    f"PreferenceConfig.{name} must be an int >= {least}, got {value!r}"
                )
        if not 0.0 <= self.label_flip_rate <= 1.0:
            raise ValueError(
                f"PreferenceConfig.label_flip_rate must be in [0, 1], got {self.label_flip_rate}"
            )
        for name in ("misspecification", "reference_noise", "label_sharpness"):
            if getattr(self, name) < 0:
                raise ValueError(f"PreferenceConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(
                f"PreferenceConfig.learning_rate must be > 0, got {self.learning_rate}"
            )

    def to_dict(self) -> dict:
        """The fields as a plain dict (for JSON results)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


PRESETS: dict[str, PreferenceConfig] = {
    # Log-linear policy, 3000 pairs, about 75 % of labels agree with the true reward.
    "base": PreferenceConfig(),
    # Weaker Bradley-Terry signal (kappa 0.3) and 10 % flipped labels.
    "noisy": PreferenceConfig(label_sharpness=0.3, label_flip_rate=0.1),
    # A tabular residual per (prompt, response) lets the policy memorise 600 pairs in 30 epochs:
    # the over-parameterised regime of a language model fine-tuned on few pairs.
    "overfit": PreferenceConfig(tabular=True, n_pairs=600, epochs=30),
    "overfit_noisy": PreferenceConfig(
        tabular=True, n_pairs=600, epochs=30, label_sharpness=0.3, label_flip_rate=0.1
    ),
    # The base task with 20x larger optimiser steps, so one step moves rho much further.
    "big_steps": PreferenceConfig(learning_rate=1.0),
}


def resolve_config(preset: str | PreferenceConfig) -> tuple[str, PreferenceConfig]:
    """(name, config) for a preset name or a config (named "custom")."""
    if isinstance(preset, PreferenceConfig):
        return "custom", preset
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    return preset, PRESETS[preset]


@dataclass(frozen=True, eq=False)
class PreferenceWorld:
    """One seeded instance of a task. Arrays are indexed [prompt, response(, feature)].

    ``config`` and ``seed`` made it (see :func:`make_world`). ``features`` are phi(x, y);
    ``reference_logits`` and ``reference_log_probs`` the frozen reference policy; ``reward``
    the hidden true reward (mean 0, sd 1 under the reference). The pairs: ``prompts`` holds
    each pair's prompt, ``chosen`` and ``rejected`` its preferred and other response.
    """

    config: PreferenceConfig
    seed: int
    features: np.ndarray
    reference_logits: np.ndarray
    reference_log_probs: np.ndarray
    reward: np.ndarray
    prompts: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray

    @property
    def label_agreement(self) -> float:
        """Fraction of pairs whose label agrees with the true reward."""
        p = self.prompts
        return float(np.mean(self.reward[p, self.chosen] > self.reward[p, self.rejected]))


def validate_seed(seed: int) -> int:
    """A seed as a non-negative int, or a ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _sample(probs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw per row; ``uniforms`` in (0, 1] never select a zero-probability entry."""
    cumulative = np.cumsum(probs, axis=1)
    index = (uniforms[:, None] * cumulative[:, -1:] > cumulative).sum(axis=1)
    return np.minimum(index, probs.shape[1] - 1)


def make_world(config: PreferenceConfig, seed: int) -> PreferenceWorld:
    """Draw the world of ``seed`` with the sizes and noise of ``config``: the same seed
    always gives the same arrays."""
    seed = validate_seed(seed)
    rng = np.random.default_rng([seed, 0])
    p, r, d = config.n_prompts, config.n_responses, config.n_features
    features = rng.normal(size=(p, r, d))
    reference_direction = rng.normal(size=d) / np.sqrt(d)
    reference_logits = features @ reference_direction + config.reference_noise * rng.normal(
        size=(p, r)
    )
    reference_log_probs = log_softmax(reference_logits)
    reward_direction = rng.normal(size=d) / np.sqrt(d)
    raw_reward = features @ reward_direction + config.misspecification * rng.normal(size=(p, r))
    reference_probs = np.exp(reference_log_probs)
    mean = np.mean(np.sum(reference_probs * raw_reward, axis=1))
    spread = np.sqrt(np.mean(np.sum(reference_probs * (raw_reward - mean) ** 2, axis=1)))
    reward = (raw_reward - mean) / spread

    prompts = rng.integers(p, size=config.n_pairs)
    first = _sample(reference_probs[prompts], 1.0 - rng.random(config.n_pairs))
    without_first = reference_probs[prompts].copy()
    without_first[np.arange(config.n_pairs), first] = 0.0
    second = _sample(without_first, 1.0 - rng.random(config.n_pairs))
    margin = reward[prompts, first] - reward[prompts, second]
    first_preferred = rng.random(config.n_pairs) < 1.0 / (
        1.0 + np.exp(-config.label_sharpness * margin)
    )
    first_preferred ^= rng.random(config.n_pairs) < config.label_flip_rate
    return PreferenceWorld(
        config=config,
        seed=seed,
        features=features,
        reference_logits=reference_logits,
        reference_log_probs=reference_log_probs,
        reward=reward,
        prompts=prompts,
        chosen=np.where(first_preferred, first, second),
        rejected=np.where(first_preferred, second, first),
    )
