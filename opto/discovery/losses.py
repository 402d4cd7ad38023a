"""Reference preference-optimization losses, written from their published formulas.

Every loss has the interface a proposer (an LLM in the discovery loop) is asked to implement::

    def loss(policy_chosen_logps, policy_rejected_logps,
             reference_chosen_logps, reference_rejected_logps, beta) -> np.ndarray

The four inputs are 1-D float arrays of shape (B,), one entry per preference pair: the
log-probability of the chosen and rejected response under the policy being trained and under the
frozen reference. The result holds one loss per pair, shape (B,); training minimises its mean.
No derivative is returned: the task differentiates the function numerically (see
``opto.discovery.derivatives``), so a proposer writes values only, as in the DiscoPOP paper.

Notation in the docstrings: rho = (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))
and x = beta * rho; sigma is the logistic function.

Each function is self-contained (it uses only ``np``), so ``inspect.getsource`` of it is a valid
proposal that can seed a discovery archive.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

PreferenceLoss = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]


def dpo(
    policy_chosen_logps: np.ndarray,
    policy_rejected_logps: np.ndarray,
    reference_chosen_logps: np.ndarray,
    reference_rejected_logps: np.ndarray,
    beta: float,
) -> np.ndarray:
    """DPO (Rafailov et al., 2023): f(x) = -log sigma(x) = log(1 + exp(-x))."""
    rho = (policy_chosen_logps - reference_chosen_logps) - (
        policy_rejected_logps - reference_rejected_logps
    )
    return np.logaddexp(0.0, -beta * rho)


def slic(
    policy_chosen_logps: np.ndarray,
    policy_rejected_logps: np.ndarray,
    reference_chosen_logps: np.ndarray,
    reference_rejected_logps: np.ndarray,
    beta: float,
) -> np.ndarray:
    """SLiC-HF hinge (Zhao et al., 2023): f(x) = max(0, 1 - x), margin 1."""
    rho = (policy_chosen_logps - reference_chosen_logps) - (
        policy_rejected_logps - reference_rejected_logps
    )
    return np.maximum(0.0, 1.0 - beta * rho)


def ipo(
    policy_chosen_logps: np.ndarray,
    policy_rejected_logps: np.ndarray,
    reference_chosen_logps: np.ndarray,
    reference_rejected_logps: np.ndarray,
    beta: float,
) -> np.ndarray:
    """IPO (Azar et al., 2023), the form DiscoPOP's baselines used: (rho - 1/(2 beta))^2.

    Equal to (x - 1/2)^2 / beta^2: the regression target for x is 1/2, and beta also scales the
    loss (the paper's text prints (x - 1)^2; the experiments used this form).
    """
    rho = (policy_chosen_logps - reference_chosen_logps) - (
        policy_rejected_logps - reference_rejected_logps
    )
    return (rho - 1.0 / (2.0 * beta)) ** 2


def kto_pair(
    policy_chosen_logps: np.ndarray,
    policy_rejected_logps: np.ndarray,
    reference_chosen_logps: np.ndarray,
    reference_rejected_logps: np.ndarray,
    beta: float,
) -> np.ndarray:
    """KTO on pairs (Ethayarajh et al., 2024; the `kto_pair` baseline of DiscoPOP).

    With r_w = log pi(y_w) - log pi_ref(y_w), r_l likewise, and the reference points
    z_w = max(0, mean_batch r_w), z_l = max(0, mean_batch r_l), the chosen half is
    1 - sigma(beta (r_w - z_l)) and the rejected half 1 - sigma(beta (z_w - r_l)). The published
    form concatenates the two halves (2B losses); here pair i gets the average of its two halves,
    which has the same batch mean. Not a function of rho: it uses each log-ratio and batch means,
    and the reference points are differentiated through like everything else. 1 - sigma(z) is
    evaluated as sigma(-z) = exp(-log(1 + exp(z))) to stay finite for any z.
    """
    chosen_logratios = policy_chosen_logps - reference_chosen_logps
    rejected_logratios = policy_rejected_logps - reference_rejected_logps
    chosen_point = max(0.0, float(np.mean(chosen_logratios)))
    rejected_point = max(0.0, float(np.mean(rejected_logratios)))
    chosen_half = np.exp(-np.logaddexp(0.0, beta * (chosen_logratios - rejected_point)))
    rejected_half = np.exp(-np.logaddexp(0.0, beta * (chosen_point - rejected_logratios)))
    return 0.5 * (chosen_half + rejected_half)


def lrml(
    policy_chosen_logps: np.ndarray,
    policy_rejected_logps: np.ndarray,
    reference_chosen_logps: np.ndarray,
    reference_rejected_logps: np.ndarray,
    beta: float,
) -> np.ndarray:
    """LRML, a.k.a. DiscoPOP (Lu et al., 2024, eq. 5), tau = 0.05.

    f(x) = (1 - sigma(x/tau)) log(1 + exp(-x)) + sigma(x/tau) exp(-x): a sigmoid gate on the
    log-ratio difference blends the logistic (DPO) loss and the exponential loss. Evaluated in log
    space so that sigma(x/tau) exp(-x) never forms 0 * inf for very negative x.
    """
    tau = 0.05
    rho = (policy_chosen_logps - reference_chosen_logps) - (
        policy_rejected_logps - reference_rejected_logps
    )
    x = beta * rho
    logistic = np.logaddexp(0.0, -x)
    log_gate = -np.logaddexp(0.0, -x / tau)
    one_minus_gate = np.exp(-np.logaddexp(0.0, x / tau))
    return one_minus_gate * logistic + np.exp(log_gate - x)


def padll(
    policy_chosen_logps: np.ndarray,
    policy_rejected_logps: np.ndarray,
    reference_chosen_logps: np.ndarray,
    reference_rejected_logps: np.ndarray,
    beta: float,
) -> np.ndarray:
    """PADLL (Lu et al., 2024, Table 1): 0.9 (1 - 0.5 [rho < 0]) log(1 + exp(-x)).

    A DPO loss whose weight halves (0.9 -> 0.45) on pairs the policy currently ranks the wrong way.
    """
    rho = (policy_chosen_logps - reference_chosen_logps) - (
        policy_rejected_logps - reference_rejected_logps
    )
    weight = 0.9 * (1.0 - 0.5 * (rho < 0))
    return weight * np.logaddexp(0.0, -beta * rho)


REFERENCE_LOSSES: dict[str, PreferenceLoss] = {
    "dpo": dpo,
    "slic": slic,
    "ipo": ipo,
    "kto": kto_pair,
    "lrml": lrml,
    "padll": padll,
}


def reference_loss_source(name: str) -> str:
    """The source of the reference loss ``name`` (a key of ``REFERENCE_LOSSES``), as a proposal
    string (it needs ``np`` in scope)."""
    if name not in REFERENCE_LOSSES:
        known = ", ".join(sorted(REFERENCE_LOSSES))
        raise KeyError(f"no reference loss named {name!r}; known: {known}")
    return inspect.getsource(REFERENCE_LOSSES[name])
