"""The reference losses against their formulas, at points checked by hand."""

import math

import pytest

np = pytest.importorskip("numpy")

from opto.discovery import (  # noqa: E402
    REFERENCE_LOSSES,
    dpo,
    ipo,
    kto_pair,
    lrml,
    padll,
    reference_loss_source,
    slic,
)


def at_rho(loss, rho, beta):
    """Evaluate a loss on pairs whose log-ratio difference is ``rho`` (reference at -2, -3)."""
    rho = np.atleast_1d(np.asarray(rho, dtype=float))
    reference_chosen = np.full_like(rho, -2.0)
    reference_rejected = np.full_like(rho, -3.0)
    return loss(
        reference_chosen + rho, reference_rejected, reference_chosen, reference_rejected, beta
    )


def test_dpo_is_negative_log_sigmoid():
    assert at_rho(dpo, 0.0, 0.1)[0] == pytest.approx(math.log(2))
    assert at_rho(dpo, 10.0, 0.1)[0] == pytest.approx(math.log(1 + math.exp(-1)))
    assert at_rho(dpo, -20.0, 0.5)[0] == pytest.approx(math.log(1 + math.exp(10)))
    assert at_rho(dpo, -1e5, 1.0)[0] == pytest.approx(1e5)


def test_slic_is_a_hinge_with_margin_one():
    values = at_rho(slic, [0.0, 5.0, 20.0, -10.0], 0.1)
    assert values == pytest.approx([1.0, 0.5, 0.0, 2.0])


def test_ipo_regresses_rho_to_half_over_beta():
    values = at_rho(ipo, [1.0, 3.0, 0.0], 0.5)
    assert values == pytest.approx([0.0, 4.0, 1.0])
    # (x - 1/2)^2 / beta^2 with x = beta * rho
    assert at_rho(ipo, 7.0, 0.1)[0] == pytest.approx((0.7 - 0.5) ** 2 / 0.01)


def test_lrml_matches_the_paper_formula():
    tau = 0.05

    def formula(x):
        gate = 1 / (1 + math.exp(-x / tau))
        return (1 - gate) * math.log(1 + math.exp(-x)) + gate * math.exp(-x)

    beta = 0.05
    for x in (-0.5, -0.1186, 0.0, 0.072, 0.3, 2.0):
        assert at_rho(lrml, x / beta, beta)[0] == pytest.approx(formula(x), rel=1e-12)
    assert at_rho(lrml, 0.0, beta)[0] == pytest.approx(0.5 * math.log(2) + 0.5)


def test_lrml_has_the_published_shape():
    """Local minimum near x = -0.119, local maximum near x = +0.072, f'(0) about +0.78."""
    x = np.linspace(-0.3, 0.3, 60001)
    f = at_rho(lrml, x, 1.0)
    slope = np.diff(f)
    turning = x[1:-1][np.sign(slope[:-1]) != np.sign(slope[1:])]
    assert turning == pytest.approx([-0.1186, 0.0720], abs=2e-4)
    derivative_at_zero = (at_rho(lrml, 1e-6, 1.0)[0] - at_rho(lrml, -1e-6, 1.0)[0]) / 2e-6
    assert derivative_at_zero == pytest.approx(0.784, abs=1e-3)


def test_lrml_stays_finite_far_from_zero():
    values = at_rho(lrml, [-1e4, -800.0, 800.0, 1e4], 1.0)
    assert np.all(np.isfinite(values))
    assert values[0] == pytest.approx(1e4)
    assert values[-1] == pytest.approx(0.0, abs=1e-300)


def test_padll_halves_the_weight_of_wrongly_ranked_pairs():
    values = at_rho(padll, [1.0, -1.0, 0.0], 1.0)
    assert values[0] == pytest.approx(0.9 * math.log(1 + math.exp(-1)))
    assert values[1] == pytest.approx(0.45 * math.log(1 + math.exp(1)))
    assert values[2] == pytest.approx(0.9 * math.log(2))


def test_kto_pair_at_a_hand_checked_batch():
    # chosen log-ratios [1, -1] (mean 0 -> z_w = 0); rejected [0, 2] (mean 1 -> z_l = 1)
    reference = np.array([-2.0, -2.0])
    chosen = reference + np.array([1.0, -1.0])
    rejected = reference + np.array([0.0, 2.0])
    values = kto_pair(chosen, rejected, reference, reference, 1.0)

    def one_minus_sigmoid(z):
        return 1 - 1 / (1 + math.exp(-z))

    chosen_half = [one_minus_sigmoid(1 - 1), one_minus_sigmoid(-1 - 1)]
    rejected_half = [one_minus_sigmoid(0 - 0), one_minus_sigmoid(0 - 2)]
    expected = [0.5 * (c + r) for c, r in zip(chosen_half, rejected_half, strict=True)]
    assert values == pytest.approx(expected)


def test_kto_pair_mean_equals_the_concatenated_published_form():
    rng = np.random.default_rng(3)
    pc, pr, rc, rr = rng.normal(-3, 1, (4, 16))
    beta = 0.3
    chosen_ratio, rejected_ratio = pc - rc, pr - rr
    z_chosen = max(0.0, chosen_ratio.mean())
    z_rejected = max(0.0, rejected_ratio.mean())
    concatenated = np.concatenate(
        [
            1 - 1 / (1 + np.exp(-beta * (chosen_ratio - z_rejected))),
            1 - 1 / (1 + np.exp(-beta * (z_chosen - rejected_ratio))),
        ]
    )
    assert kto_pair(pc, pr, rc, rr, beta).mean() == pytest.approx(concatenated.mean())


def test_every_reference_loss_returns_one_value_per_pair():
    rng = np.random.default_rng(0)
    for loss in REFERENCE_LOSSES.values():
        out = loss(*rng.normal(-3, 1, (4, 7)), 0.1)
        assert out.shape == (7,)
        assert np.all(np.isfinite(out))


def test_reference_loss_source_is_a_runnable_proposal():
    rng = np.random.default_rng(1)
    inputs = rng.normal(-3, 1, (4, 5))
    for name, loss in REFERENCE_LOSSES.items():
        namespace = {"np": np}
        exec(reference_loss_source(name), namespace)
        rebuilt = namespace[loss.__name__]
        assert np.array_equal(rebuilt(*inputs, 0.2), loss(*inputs, 0.2))
    with pytest.raises(KeyError, match="known"):
        reference_loss_source("nope")
