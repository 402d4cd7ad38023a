"""The contract tests a proposed loss passes before it is trained, and diagnostics about it.

They run inside the sandbox (see :mod:`opto.discovery.worker`), never in the caller. On top of
:func:`check_loss` (shape, determinism, no writes to inputs, finite values and derivatives on
random batches) they repeat the test over a grid of beta and on *extreme* pairs, with
rho = +-100 by default: beta * rho then reaches +-500, where a literal ``log(1 + exp(-x))`` or an
exponential gate overflows. That is how DiscoPOP's as-written code produced NaN at large beta;
training can reach such pairs, so the test rejects them here, with a message saying how to fix it.

Diagnostics are reported but never reject: the slope of the loss at rho = 0, where training
starts (a positive slope means the first steps favour the *rejected* responses, as LRML's does).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from opto.discovery.derivatives import check_loss, loss_and_derivatives, validate_beta
from opto.discovery.errors import LossContractError
from opto.discovery.losses import PreferenceLoss

_SLOPE_BATCH = 8
_FLAT = 1e-9


@dataclass(frozen=True)
class ContractSpec:
    """Where the contract tests probe a loss: every beta in ``betas``; extreme pairs at
    ``extreme_rhos`` (log-ratio differences, in nats)."""

    betas: tuple[float, ...] = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0)
    extreme_rhos: tuple[float, ...] = (-100.0, -30.0, -10.0, 10.0, 30.0, 100.0)

    def __post_init__(self) -> None:
        betas = tuple(validate_beta(beta) for beta in self.betas)
        if not betas:
            raise ValueError("ContractSpec.betas must name at least one beta")
        rhos = tuple(float(rho) for rho in self.extreme_rhos)
        if not all(np.isfinite(rhos)):
            raise ValueError(f"ContractSpec.extreme_rhos must be finite, got {rhos}")
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "extreme_rhos", rhos)

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready data (stored in the archive's settings)."""
        return {"betas": list(self.betas), "extreme_rhos": list(self.extreme_rhos)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContractSpec:
        """The spec :meth:`to_dict` wrote as ``data`` (validated again)."""
        return cls(betas=tuple(data["betas"]), extreme_rhos=tuple(data["extreme_rhos"]))


@dataclass(frozen=True)
class ContractReport:
    """What the contract tests learned about a loss that passed them.

    ``pointwise`` says each pair's loss depends on that pair alone (then derivatives are
    cheap); ``initial_slope`` maps each training beta to the loss's slope where training
    starts; ``notes`` are warnings for the proposer (a loss that starts uphill or flat).
    """

    pointwise: bool
    initial_slope: dict[str, float]  # str(beta) -> d loss / d(beta * rho) at rho = 0
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


def run_contract(
    loss: PreferenceLoss, spec: ContractSpec, training_betas: tuple[float, ...]
) -> ContractReport:
    """Test ``loss`` at the betas and extreme pairs of ``spec``; raises
    :class:`LossContractError` naming the first broken rule. ``training_betas`` are the betas
    training will use, where the initial slope is measured for the report."""
    pointwise = True
    with np.errstate(all="ignore"):
        for beta in spec.betas:
            beta_pointwise = check_loss(loss, beta).pointwise
            pointwise = pointwise and beta_pointwise
            if spec.extreme_rhos:
                _check_extremes(loss, beta, spec.extreme_rhos, beta_pointwise)
        slopes = {
            str(beta): initial_slope(loss, beta, pointwise=pointwise) for beta in training_betas
        }
    return ContractReport(pointwise=pointwise, initial_slope=slopes, notes=_notes(slopes))


def extreme_batch(rhos: tuple[float, ...]) -> list[np.ndarray]:
    """Pairs with log-ratio difference ``rhos``; every log-probability stays below zero."""
    rho = np.asarray(rhos, dtype=np.float64)
    spread = np.linspace(0.0, 1.0, rho.size)
    reference_chosen = -60.0 - spread
    reference_rejected = -61.0 + spread
    return [
        reference_chosen + rho / 2,
        reference_rejected - rho / 2,
        reference_chosen,
        reference_rejected,
    ]


def _check_extremes(
    loss: PreferenceLoss, beta: float, rhos: tuple[float, ...], pointwise: bool
) -> None:
    batch = extreme_batch(rhos if len(rhos) > 1 else (*rhos, 0.0))
    values, d_chosen, d_rejected = loss_and_derivatives(loss, *batch, beta, pointwise=pointwise)
    name = getattr(loss, "__name__", type(loss).__name__)
    for what, array in (("value", values), ("derivative", d_chosen), ("derivative", d_rejected)):
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            rho = float((batch[0] - batch[2] - batch[1] + batch[3])[bad[0]])
            raise LossContractError(
                f"loss {name!r} gives a non-finite {what} ({array[bad[0]]}) at beta={beta:g} "
                f"for a pair with rho={rho:g} (beta*rho={beta * rho:g}); training can reach "
                "such pairs. Compute it in a numerically stable way: e.g. "
                "np.logaddexp(0, -x) for log(1 + exp(-x)), and no exp() of large positive "
                "numbers."
            )


def initial_slope(loss: PreferenceLoss, beta: float, *, pointwise: bool) -> float:
    """d loss / d(beta * rho) of ``loss`` at ``beta`` where training starts (policy =
    reference, so rho = 0); ``pointwise`` as found by the contract (how to differentiate)."""
    reference = -3.0 - np.linspace(0.0, 1.0, _SLOPE_BATCH)
    batch = [reference, reference - 0.5, reference, reference - 0.5]
    _, d_chosen, _ = loss_and_derivatives(loss, *batch, beta, pointwise=pointwise)
    return float(np.mean(d_chosen) * _SLOPE_BATCH / beta)


def _notes(slopes: dict[str, float]) -> tuple[str, ...]:
    rising = {beta: slope for beta, slope in slopes.items() if slope > _FLAT}
    if rising:
        shown = ", ".join(f"{slope:+.3g} at beta={beta}" for beta, slope in rising.items())
        return (
            "At the start of training (policy = reference, rho = 0) the loss grows with rho "
            f"(slope {shown}): the first steps favour the rejected responses.",
        )
    if all(abs(slope) <= _FLAT for slope in slopes.values()):
        return (
            "The loss is flat at rho = 0, where training starts: the policy may not move "
            "away from the reference.",
        )
    return ()
