"""Finite-difference derivatives of black-box losses, and the loss contract."""

import math

import pytest

np = pytest.importorskip("numpy")

from opto.discovery import (  # noqa: E402
    LossContractError,
    check_loss,
    dpo,
    ipo,
    kto_pair,
    loss_and_derivatives,
    lrml,
    padll,
    slic,
)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lrml_slope(x):
    tau = 0.05
    gate = sigmoid(x / tau)
    gate_slope = gate * (1 - gate) / tau
    logistic = np.log1p(np.exp(-x))
    return (
        -gate_slope * logistic
        - (1 - gate) * sigmoid(-x)
        + gate_slope * np.exp(-x)
        - gate * np.exp(-x)
    )


# d f / d x for losses f(x), x = beta * rho
SLOPES = {
    dpo: lambda x, beta: -sigmoid(-x),
    slic: lambda x, beta: -(x < 1.0).astype(float),
    ipo: lambda x, beta: 2 * (x - 0.5) / beta**2,
    lrml: lambda x, beta: lrml_slope(x),
    padll: lambda x, beta: -0.9 * (1 - 0.5 * (x < 0)) * sigmoid(-x),
}


def batch_at(x, beta):
    rng = np.random.default_rng(7)
    reference_chosen = rng.normal(-3, 1, x.size)
    reference_rejected = rng.normal(-3, 1, x.size)
    policy_chosen = reference_chosen + 0.5 * x / beta
    policy_rejected = reference_rejected - 0.5 * x / beta
    return policy_chosen, policy_rejected, reference_chosen, reference_rejected


@pytest.mark.parametrize("loss", list(SLOPES), ids=lambda f: f.__name__)
@pytest.mark.parametrize("beta", [0.01, 0.1, 1.0, 5.0])
def test_derivatives_match_the_closed_form(loss, beta):
    x = np.array([-3.0, -0.7, -0.1186, 0.05, 0.3, 0.9, 1.4, 4.0])
    batch = batch_at(x, beta)
    for pointwise in (True, False):
        losses, d_chosen, d_rejected = loss_and_derivatives(loss, *batch, beta, pointwise=pointwise)
        expected = SLOPES[loss](x, beta) * beta / x.size
        assert losses == pytest.approx(loss(*batch, beta))
        assert d_chosen == pytest.approx(expected, rel=1e-7, abs=1e-8 * beta / x.size)
        assert d_rejected == pytest.approx(-expected, rel=1e-7, abs=1e-8 * beta / x.size)


def test_padll_indicator_is_held_fixed_at_rho_zero():
    """At rho = 0 the active branch is weight 0.9; a jump must not become a huge slope."""
    beta = 0.1
    batch = batch_at(np.zeros(4), beta)
    _, d_chosen, d_rejected = loss_and_derivatives(padll, *batch, beta, pointwise=True)
    assert d_chosen == pytest.approx(np.full(4, -0.9 * 0.5 * beta / 4), rel=1e-4)
    assert d_rejected == pytest.approx(-d_chosen)


def test_hinge_kink_gives_a_one_sided_slope():
    beta = 0.5
    batch = batch_at(np.array([1.0, 1.0]), beta)
    _, d_chosen, _ = loss_and_derivatives(slic, *batch, beta, pointwise=True)
    assert np.all((np.abs(d_chosen) < 1e-6) | (np.abs(d_chosen + beta / 2) < 1e-6))


def test_batch_coupled_loss_is_differentiated_input_by_input():
    rng = np.random.default_rng(11)
    beta = 0.2
    pc, pr, rc, rr = rng.normal(-3, 1, (4, 6))
    pc = pc + 2.0  # keep the chosen batch mean away from the clamp at 0
    _, d_chosen, d_rejected = loss_and_derivatives(kto_pair, pc, pr, rc, rr, beta, pointwise=False)
    h = 1e-6
    for j in range(6):
        for moved, got in ((0, d_chosen[j]), (1, d_rejected[j])):
            up = [pc.copy(), pr.copy()]
            down = [pc.copy(), pr.copy()]
            up[moved][j] += h
            down[moved][j] -= h
            slope = (kto_pair(*up, rc, rr, beta).mean() - kto_pair(*down, rc, rr, beta).mean()) / (
                2 * h
            )
            assert got == pytest.approx(slope, rel=1e-5, abs=1e-10)


def test_pointwise_detection():
    assert check_loss(dpo, 0.1).pointwise
    assert check_loss(lrml, 0.01).pointwise
    assert check_loss(padll, 1.0).pointwise
    assert not check_loss(kto_pair, 0.1).pointwise

    def centred(pc, pr, rc, rr, beta):
        rho = (pc - rc) - (pr - rr)
        return np.log1p(np.exp(-beta * (rho - rho.mean())))

    assert not check_loss(centred, 0.1).pointwise


def test_contract_rejects_a_reduced_loss():
    def reduced(pc, pr, rc, rr, beta):
        return dpo(pc, pr, rc, rr, beta).mean()

    with pytest.raises(LossContractError, match=r"shape \(\).*one loss per pair"):
        check_loss(reduced, 0.05)


def test_contract_rejects_tuples_and_non_numbers():
    def several(pc, pr, rc, rr, beta):
        return dpo(pc, pr, rc, rr, beta), pc - rc, pr - rr

    def text(pc, pr, rc, rr, beta):
        return np.array(["a"] * pc.size)

    with pytest.raises(LossContractError, match="tuple"):
        check_loss(several, 0.05)
    with pytest.raises(LossContractError, match="dtype"):
        check_loss(text, 0.05)


def test_contract_rejects_in_place_writes():
    def mutating(pc, pr, rc, rr, beta):
        pc -= rc
        return -beta * (pc - (pr - rr))

    with pytest.raises(LossContractError, match="in place"):
        check_loss(mutating, 0.05)


def test_contract_wraps_exceptions_with_the_loss_name():
    def broken(pc, pr, rc, rr, beta):
        return undefined_name * pc  # noqa: F821

    with pytest.raises(LossContractError, match="'broken' raised NameError") as info:
        check_loss(broken, 0.05)
    assert isinstance(info.value.__cause__, NameError)


def test_contract_rejects_nan_and_randomness():
    def nan_loss(pc, pr, rc, rr, beta):
        return np.log(pc - rc)  # log of negative numbers

    def noisy(pc, pr, rc, rr, beta):
        return dpo(pc, pr, rc, rr, beta) + np.random.random(pc.shape)

    with pytest.raises(LossContractError, match="non-finite"), np.errstate(invalid="ignore"):
        check_loss(nan_loss, 0.05)
    with pytest.raises(LossContractError, match="not deterministic"):
        check_loss(noisy, 0.05)


def test_contract_rejects_non_callables_and_bad_beta():
    with pytest.raises(LossContractError, match="callable"):
        check_loss("def f(): pass", 0.05)
    for beta in (0.0, -1.0, math.inf, "x"):
        with pytest.raises(ValueError, match="beta"):
            check_loss(dpo, beta)


def test_batch_statistics_with_sample_std_are_allowed():
    """torch.std is unbiased by default; a port with ddof=1 must not be rejected for B = 1."""

    def standardised(pc, pr, rc, rr, beta):
        rho = (pc - rc) - (pr - rr)
        return np.logaddexp(0.0, -beta * rho / (np.std(rho, ddof=1) + 1.0))

    assert not check_loss(standardised, 0.1).pointwise
