"""Calling a black-box preference loss safely, and differentiating it by finite differences.

Why finite differences: the losses are plain numpy functions written by a proposer (an LLM), and
numpy has no autograd. Asking the proposer for derivatives too would double what it can get wrong,
silently. Instead the task needs only values, and takes the derivative of the batch-mean loss
with respect to the two *policy* inputs (the reference inputs are constants). Through the
log-linear policy the rest of the chain rule is analytic.

How: central differences with a step of 1e-5 / beta nats (about 1e-5 in x = beta * rho, where the
published losses change), plus a guard for kinks and jumps. Both one-sided differences are
formed; where they disagree by more than 10 % *and* by more than 0.01 per unit of x (far more
than smooth curvature can cause over a step of 1e-5), the one of smaller magnitude is used. At a
jump (PADLL's indicator [rho < 0]) that is the side on which the loss is continuous, i.e. the
branch that is active at the point, which is what autograd would differentiate; at a kink (the
hinge) it is the flatter one-sided slope. Elsewhere the result is the ordinary central difference:
for DPO and LRML the median relative error is about 1e-11 and the absolute error stays below 1e-8
per unit of x.

Cost: a loss whose i-th output depends only on pair i ("pointwise", which :func:`check_loss`
detects by perturbing single pairs) is differentiated for the whole batch at once: 5 calls per
step. A loss that uses batch statistics (KTO's reference points, batch means or variances) is
differentiated one input at a time: 4B + 1 calls per step, exact but slower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opto.discovery.errors import LossContractError
from opto.discovery.losses import PreferenceLoss

KINK_RELATIVE = 0.1
KINK_ABSOLUTE = 0.01
POINTWISE_RTOL = 1e-10


def finite_difference_step(beta: float) -> float:
    """Step in nats for the policy log-probs: about 1e-5 in beta * rho."""
    return float(np.clip(1e-5 / beta, 1e-8, 1e-3))


def validate_beta(beta: float) -> float:
    """``beta`` as a positive finite float, or a ValueError saying what was wrong."""
    try:
        value = float(beta)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"beta must be a positive number, got {beta!r}") from exc
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"beta must be a positive finite number, got {beta!r}")
    return value


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.setflags(write=False)
    return view


def call_loss(
    loss: PreferenceLoss,
    policy_chosen_logps: np.ndarray,
    policy_rejected_logps: np.ndarray,
    reference_chosen_logps: np.ndarray,
    reference_rejected_logps: np.ndarray,
    beta: float,
) -> np.ndarray:
    """One call of ``loss`` with read-only inputs; its output checked to be a float array (B,).

    ``policy_chosen_logps``, ``policy_rejected_logps``, ``reference_chosen_logps``,
    ``reference_rejected_logps`` and ``beta`` are the loss's five arguments (see
    :mod:`opto.discovery.losses`).

    Any exception raised inside the loss, an in-place write to an input, or an output of the wrong
    type or shape becomes a :class:`LossContractError` whose message can be shown to the author.
    Non-finite values are returned as they are: callers decide what they mean.
    """
    size = policy_chosen_logps.shape[0]
    inputs = [
        _read_only(a)
        for a in (
            policy_chosen_logps,
            policy_rejected_logps,
            reference_chosen_logps,
            reference_rejected_logps,
        )
    ]
    name = getattr(loss, "__name__", type(loss).__name__)
    try:
        output = loss(*inputs, beta)
    except Exception as exc:
        hint = ""
        if isinstance(exc, ValueError) and "read-only" in str(exc):
            hint = " (the loss must not modify its input arrays in place)"
        raise LossContractError(f"loss {name!r} raised {type(exc).__name__}: {exc}{hint}") from exc
    if isinstance(output, tuple | list):
        raise LossContractError(
            f"loss {name!r} returned a {type(output).__name__}; return one array of per-pair "
            f"losses with shape ({size},), not several values"
        )
    result = np.asarray(output)
    if result.dtype.kind not in "fiu":
        raise LossContractError(
            f"loss {name!r} returned values of dtype {result.dtype}; expected real numbers"
        )
    if result.shape != (size,):
        raise LossContractError(
            f"loss {name!r} returned shape {result.shape}; expected one loss per pair, "
            f"shape ({size},) (do not reduce over the batch)"
        )
    return result.astype(np.float64, copy=False)


def _guarded_difference(
    base: np.ndarray,
    plus: np.ndarray,
    minus: np.ndarray,
    step_up: np.ndarray,
    step_down: np.ndarray,
    floor: float,
) -> np.ndarray:
    forward = (plus - base) / step_up
    backward = (base - minus) / step_down
    central = (plus - minus) / (step_up + step_down)
    gap = np.abs(forward - backward)
    disagree = (gap > KINK_RELATIVE * np.maximum(np.abs(forward), np.abs(backward))) & (gap > floor)
    one_sided = np.where(np.abs(forward) <= np.abs(backward), forward, backward)
    return np.where(disagree, one_sided, central)


def loss_and_derivatives(
    loss: PreferenceLoss,
    policy_chosen_logps: np.ndarray,
    policy_rejected_logps: np.ndarray,
    reference_chosen_logps: np.ndarray,
    reference_rejected_logps: np.ndarray,
    beta: float,
    *,
    pointwise: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pair losses and the derivatives of their mean w.r.t. the policy log-probs.

    ``loss`` is called with ``policy_chosen_logps``, ``policy_rejected_logps``,
    ``reference_chosen_logps``, ``reference_rejected_logps`` and ``beta``, its five arguments
    (see :mod:`opto.discovery.losses`); the derivatives are taken numerically.

    Returns ``(losses, d_chosen, d_rejected)``, each of shape (B,). ``pointwise=True`` is only
    correct for losses whose i-th output depends on pair i alone (see :func:`check_loss`).
    """
    pc = np.asarray(policy_chosen_logps, dtype=np.float64)
    pr = np.asarray(policy_rejected_logps, dtype=np.float64)
    rc = np.asarray(reference_chosen_logps, dtype=np.float64)
    rr = np.asarray(reference_rejected_logps, dtype=np.float64)
    size = pc.shape[0]
    h = finite_difference_step(beta)
    losses = call_loss(loss, pc, pr, rc, rr, beta)

    def at(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
        return call_loss(loss, chosen, rejected, rc, rr, beta)

    derivatives = []
    for which, point in enumerate((pc, pr)):
        up, down = point + h, point - h
        step_up, step_down = up - point, point - down
        if pointwise:
            shifted = [(up, pr), (down, pr)] if which == 0 else [(pc, up), (pc, down)]
            plus, minus = (at(*args) for args in shifted)
            floor = KINK_ABSOLUTE * beta
            derivative = _guarded_difference(losses, plus, minus, step_up, step_down, floor)
            derivative /= size
        else:
            base = np.full(size, losses.mean())
            plus, minus = np.empty(size), np.empty(size)
            for j in range(size):
                for target, moved in ((plus, up), (minus, down)):
                    probe = point.copy()
                    probe[j] = moved[j]
                    args = (probe, pr) if which == 0 else (pc, probe)
                    target[j] = at(*args).mean()
            floor = KINK_ABSOLUTE * beta / size
            derivative = _guarded_difference(base, plus, minus, step_up, step_down, floor)
        derivatives.append(derivative)
    return losses, derivatives[0], derivatives[1]


@dataclass(frozen=True)
class LossCheck:
    """What :func:`check_loss` learned about a loss that honours the contract: whether it is
    ``pointwise`` (each pair's loss depends on that pair alone)."""

    pointwise: bool


def _random_batch(rng: np.random.Generator, size: int, beta: float) -> list[np.ndarray]:
    reference_chosen = rng.normal(-3.0, 1.0, size)
    reference_rejected = rng.normal(-3.0, 1.0, size)
    policy_chosen = reference_chosen + rng.normal(0.0, 0.5, size) / beta
    policy_rejected = reference_rejected + rng.normal(0.0, 0.5, size) / beta
    return [policy_chosen, policy_rejected, reference_chosen, reference_rejected]


def _is_pointwise(loss: PreferenceLoss, beta: float, rng: np.random.Generator) -> bool:
    size = 8
    for _ in range(3):
        batch = _random_batch(rng, size, beta)
        base = call_loss(loss, *batch, beta)
        for which in (0, 1):
            for j in (0, size // 2, size - 1):
                for shift in (0.5 / beta, 1e-3 / beta):
                    moved = [a.copy() for a in batch]
                    moved[which][j] += shift
                    out = call_loss(loss, *moved, beta)
                    others = np.arange(size) != j
                    if not np.allclose(
                        out[others], base[others], rtol=POINTWISE_RTOL, atol=0.0, equal_nan=True
                    ):
                        return False
    return True


def check_loss(loss: PreferenceLoss, beta: float) -> LossCheck:
    """The contract test run before any training: cheap, deterministic, with readable errors.

    Checks, on seeded random batches at this beta: the loss is callable with the five arguments,
    returns a float array of shape (B,) for several B, does not write to its inputs, is
    deterministic, and gives finite values and finite derivatives. Also finds out whether the loss
    is pointwise (decides how it is differentiated).
    """
    beta = validate_beta(beta)
    if not callable(loss):
        raise LossContractError(f"a loss must be a callable, got {type(loss).__name__}")
    rng = np.random.default_rng(20240611)
    name = getattr(loss, "__name__", type(loss).__name__)
    for size in (2, 3, 10):
        batch = _random_batch(rng, size, beta)
        first = call_loss(loss, *batch, beta)
        second = call_loss(loss, *batch, beta)
        if not np.array_equal(first, second, equal_nan=True):
            raise LossContractError(
                f"loss {name!r} is not deterministic: two calls on the same inputs differ"
            )
        if not np.all(np.isfinite(first)):
            raise LossContractError(
                f"loss {name!r} returned non-finite values on finite inputs at beta={beta}"
            )
    pointwise = _is_pointwise(loss, beta, rng)
    batch = _random_batch(rng, 10, beta)
    _, d_chosen, d_rejected = loss_and_derivatives(loss, *batch, beta, pointwise=pointwise)
    if not (np.all(np.isfinite(d_chosen)) and np.all(np.isfinite(d_rejected))):
        raise LossContractError(
            f"loss {name!r} has non-finite derivatives on finite inputs at beta={beta}"
        )
    return LossCheck(pointwise=pointwise)
