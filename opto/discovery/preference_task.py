"""Train a log-linear policy on preference pairs with any loss, then measure it exactly.

The policy's logits are the reference logits plus phi(x, y) . w, plus a free residual U[x, y] in
the tabular presets, so training starts at pi = pi_ref and rho = 0 for every pair, as in DPO
fine-tuning. Training is minibatch Adam on the mean loss. The loss is a black box (see
:mod:`opto.discovery.derivatives`): its derivatives with respect to the policy log-probs come from
finite differences, and the chain rule through log pi(y|x) = logit(x, y) - logsumexp_y' logit(x, y')
is analytic, so a loss may use each log-prob on its own (KTO does), not only rho.

Everything is seeded: the world by (seed, 0), the minibatch order by (seed, 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from opto.discovery.derivatives import check_loss, loss_and_derivatives, validate_beta
from opto.discovery.errors import TrainingDivergedError
from opto.discovery.losses import PreferenceLoss
from opto.discovery.metrics import (
    expected_reward,
    kl_divergence,
    log_softmax,
    optimal_reward_at_kl,
    preference_accuracy,
    win_rate,
)
from opto.discovery.world import PreferenceConfig, PreferenceWorld, make_world, resolve_config

ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8


class _Adam:
    """Adam (Kingma and Ba, 2015) on a list of numpy arrays, updated in place."""

    def __init__(self, parameters: list[np.ndarray], learning_rate: float) -> None:
        self.parameters = parameters
        self.learning_rate = learning_rate
        self.first = [np.zeros_like(p) for p in parameters]
        self.second = [np.zeros_like(p) for p in parameters]
        self.steps = 0

    def step(self, gradients: list[np.ndarray]) -> None:
        self.steps += 1
        b1, b2 = ADAM_BETAS
        for p, g, m, v in zip(self.parameters, gradients, self.first, self.second, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            m_hat = m / (1 - b1**self.steps)
            v_hat = v / (1 - b2**self.steps)
            p -= self.learning_rate * m_hat / (np.sqrt(v_hat) + ADAM_EPSILON)


@dataclass(frozen=True, eq=False)
class TrainedPolicy:
    """The result of :func:`train_policy`: the policy's log-probs and its parameters.

    ``log_probs`` is log pi(y|x); ``weights`` the feature weights and ``residual`` the
    tabular logits (None without ``tabular``); ``steps`` the optimiser steps taken and
    ``last_epoch_loss`` the mean loss over the last epoch.
    """

    log_probs: np.ndarray
    weights: np.ndarray
    residual: np.ndarray | None
    steps: int
    last_epoch_loss: float


def policy_log_probs(
    world: PreferenceWorld, weights: np.ndarray, residual: np.ndarray | None = None
) -> np.ndarray:
    """log pi(y|x) of the log-linear policy on ``world``: the reference logits plus the
    features times ``weights``, plus ``residual`` (the tabular logits) when given."""
    logits = world.reference_logits + world.features @ weights
    if residual is not None:
        logits = logits + residual
    return log_softmax(logits)


def train_policy(
    world: PreferenceWorld,
    loss: PreferenceLoss,
    beta: float,
    *,
    pointwise: bool | None = None,
) -> TrainedPolicy:
    """Minimise the mean of ``loss`` at ``beta`` over the pairs of ``world``; deterministic
    for a world.

    ``pointwise=None`` runs :func:`check_loss` first (contract test, and it decides how the loss
    is differentiated). Raises :class:`LossContractError` for a loss that breaks the interface and
    :class:`TrainingDivergedError` when a loss, derivative or parameter becomes non-finite.
    """
    beta = validate_beta(beta)
    if pointwise is None:
        pointwise = check_loss(loss, beta).pointwise
    config = world.config
    rng = np.random.default_rng([world.seed, 1])
    weights = np.zeros(config.n_features)
    residual = np.zeros((config.n_prompts, config.n_responses)) if config.tabular else None
    parameters = [weights] if residual is None else [weights, residual]
    optimiser = _Adam(parameters, config.learning_rate)
    epoch_loss = float("nan")
    for epoch in range(config.epochs):
        order = rng.permutation(config.n_pairs)
        losses_seen = []
        for start in range(0, config.n_pairs, config.batch_size):
            batch = order[start : start + config.batch_size]
            if batch.size < 2:
                continue
            losses, weight_gradient, residual_gradient = loss_gradient(
                world, loss, beta, batch, weights, residual, pointwise=pointwise
            )
            if not (np.all(np.isfinite(losses)) and np.all(np.isfinite(residual_gradient))):
                raise TrainingDivergedError(
                    f"non-finite loss or derivative at epoch {epoch}, step {optimiser.steps} "
                    f"(beta={beta})",
                    epoch=epoch,
                    step=optimiser.steps,
                )
            losses_seen.append(losses)
            optimiser.step(
                [weight_gradient] if residual is None else [weight_gradient, residual_gradient]
            )
            if not all(np.all(np.isfinite(p)) for p in parameters):
                raise TrainingDivergedError(
                    f"non-finite parameters after epoch {epoch}, step {optimiser.steps}",
                    epoch=epoch,
                    step=optimiser.steps,
                )
        epoch_loss = float(np.mean(np.concatenate(losses_seen)))
    return TrainedPolicy(
        log_probs=policy_log_probs(world, weights, residual),
        weights=weights,
        residual=residual,
        steps=optimiser.steps,
        last_epoch_loss=epoch_loss,
    )


def loss_gradient(
    world: PreferenceWorld,
    loss: PreferenceLoss,
    beta: float,
    batch: np.ndarray,
    weights: np.ndarray,
    residual: np.ndarray | None = None,
    *,
    pointwise: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pair losses of the pairs ``batch`` and the gradient of their mean.

    ``world`` holds the pairs; ``loss`` is evaluated at ``beta`` for the policy with
    ``weights`` and ``residual`` (see :func:`policy_log_probs`); ``pointwise`` says how the
    loss may be differentiated (see :func:`~opto.discovery.derivatives.check_loss`).

    Returns ``(losses, d_weights, d_logits)``; ``d_logits`` (prompts x responses) is also the
    gradient for the tabular residual. Uses d log pi(y|x) / d logit(x, y') = [y = y'] - pi(y'|x).
    """
    log_probs = policy_log_probs(world, weights, residual)
    reference = world.reference_log_probs
    prompts = world.prompts[batch]
    chosen, rejected = world.chosen[batch], world.rejected[batch]
    losses, d_chosen, d_rejected = loss_and_derivatives(
        loss,
        log_probs[prompts, chosen],
        log_probs[prompts, rejected],
        reference[prompts, chosen],
        reference[prompts, rejected],
        beta,
        pointwise=pointwise,
    )
    d_logits = np.zeros_like(log_probs)
    np.add.at(d_logits, (prompts, chosen), d_chosen)
    np.add.at(d_logits, (prompts, rejected), d_rejected)
    np.add.at(d_logits, prompts, -(d_chosen + d_rejected)[:, None] * np.exp(log_probs[prompts]))
    d_weights = np.tensordot(world.features, d_logits, axes=([0, 1], [0, 1]))
    return losses, d_weights, d_logits


@dataclass(frozen=True)
class Evaluation:
    """Exact metrics of one trained policy; the reference policy scores reward 0, KL 0, win 0.5.

    ``frontier_gap`` is the reward the best policy with the same KL would get, minus ``reward``.
    ``train_accuracy`` is the fraction of training pairs with rho > 0 (ranked as labelled).
    ``preset``, ``loss``, ``beta`` and ``seed`` say what was trained; ``kl`` is the drift
    from the reference in nats and ``win_rate`` how often the policy beats the reference;
    ``reference_reward`` the reference policy's reward; ``last_epoch_loss`` and ``steps``
    describe the training.
    """

    preset: str
    loss: str
    beta: float
    seed: int
    reward: float
    kl: float
    win_rate: float
    frontier_gap: float
    train_accuracy: float
    reference_reward: float
    last_epoch_loss: float
    steps: int

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def measure(world: PreferenceWorld, log_probs: np.ndarray) -> dict[str, float]:
    """Reward, KL, win rate, frontier gap and training-pair accuracy of the policy
    ``log_probs`` on ``world``, exactly (no sampling)."""
    reference = world.reference_log_probs
    reward = expected_reward(log_probs, world.reward)
    kl = kl_divergence(log_probs, reference)
    return {
        "reward": reward,
        "kl": kl,
        "win_rate": win_rate(log_probs, reference, world.reward),
        "frontier_gap": optimal_reward_at_kl(reference, world.reward, kl) - reward,
        "train_accuracy": preference_accuracy(
            log_probs, reference, world.prompts, world.chosen, world.rejected
        ),
        "reference_reward": expected_reward(reference, world.reward),
    }


class PreferenceTask:
    """A preset (or config) of the synthetic preference task; worlds are built once per seed.

    >>> from opto.discovery import PreferenceTask, dpo
    >>> PreferenceTask("base").evaluate(dpo, beta=0.5, seed=0).reward > 0
    True
    """

    def __init__(self, preset: str | PreferenceConfig = "base") -> None:
        self.name, self.config = resolve_config(preset)
        self._worlds: dict[int, PreferenceWorld] = {}

    def __repr__(self) -> str:
        return f"PreferenceTask({self.name!r})"

    def world(self, seed: int) -> PreferenceWorld:
        """The world of ``seed`` (built on first use, then reused)."""
        if seed not in self._worlds:
            self._worlds[seed] = make_world(self.config, seed)
        return self._worlds[seed]

    def evaluate(
        self,
        loss: PreferenceLoss,
        beta: float,
        seed: int = 0,
        *,
        pointwise: bool | None = None,
        name: str | None = None,
    ) -> Evaluation:
        """Train with ``loss`` at ``beta`` on the world of ``seed`` and measure the result.

        ``pointwise`` skips the contract check when known; ``name`` labels the loss in the
        result (default: the function's name).
        """
        world = self.world(seed)
        trained = train_policy(world, loss, beta, pointwise=pointwise)
        return Evaluation(
            preset=self.name,
            loss=name or getattr(loss, "__name__", type(loss).__name__),
            beta=float(beta),
            seed=world.seed,
            steps=trained.steps,
            last_epoch_loss=trained.last_epoch_loss,
            **measure(world, trained.log_probs),
        )
