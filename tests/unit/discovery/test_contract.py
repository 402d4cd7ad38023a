"""The contract tests, one failure class at a time, and the diagnostics (run in-process here;
the sandboxed path is in tests/integration/discovery)."""

import pytest

np = pytest.importorskip("numpy")

from opto.discovery import (  # noqa: E402
    REFERENCE_LOSSES,
    ContractSpec,
    LossContractError,
    check_loss,
    run_contract,
)
from opto.discovery.contract import extreme_batch, initial_slope  # noqa: E402

SPEC = ContractSpec()


def rho_of(policy_chosen, policy_rejected, reference_chosen, reference_rejected):
    return (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)


@pytest.mark.parametrize("name", sorted(REFERENCE_LOSSES))
def test_every_reference_loss_passes(name):
    report = run_contract(REFERENCE_LOSSES[name], SPEC, (0.5, 1.0))
    assert report.pointwise == (name != "kto")
    assert set(report.initial_slope) == {"0.5", "1.0"}


def test_dpo_slope_at_the_start_is_minus_one_half_and_gives_no_note():
    report = run_contract(REFERENCE_LOSSES["dpo"], SPEC, (0.1, 2.5))
    assert report.initial_slope["0.1"] == pytest.approx(-0.5, abs=1e-6)
    assert report.notes == ()


def test_lrml_is_reported_to_favour_rejected_responses_at_the_start():
    report = run_contract(REFERENCE_LOSSES["lrml"], SPEC, (0.05,))
    assert report.initial_slope["0.05"] == pytest.approx(0.784, abs=1e-3)
    assert "favour the rejected responses" in report.notes[0]


def test_a_constant_loss_is_reported_flat():
    def constant(pc, pr, rc, rr, beta):
        return np.ones_like(pc)

    assert "flat at rho = 0" in run_contract(constant, SPEC, (1.0,)).notes[0]


def scalar(pc, pr, rc, rr, beta):
    return np.mean(np.logaddexp(0.0, -beta * rho_of(pc, pr, rc, rr)))


def pair_of_arrays(pc, pr, rc, rr, beta):
    return pc - rc, pr - rr


def nan_on_random_inputs(pc, pr, rc, rr, beta):
    return np.log(beta * rho_of(pc, pr, rc, rr))


def random_noise(pc, pr, rc, rr, beta):
    return np.random.default_rng().normal(size=pc.shape)


def in_place(pc, pr, rc, rr, beta):
    pc -= rc
    return pc


def raises(pc, pr, rc, rr, beta):
    return {}["missing"]


def integer_strings(pc, pr, rc, rr, beta):
    return np.array(["a"] * pc.shape[0])


@pytest.mark.parametrize(
    "loss, message",
    [
        (scalar, r"returned shape \(\); expected one loss per pair"),
        (pair_of_arrays, "returned a tuple"),
        (nan_on_random_inputs, "non-finite values on finite inputs"),
        (random_noise, "is not deterministic"),
        (in_place, "must not modify its input arrays"),
        (raises, "raised KeyError"),
        (integer_strings, "expected real numbers"),
    ],
)
def test_each_broken_rule_is_named(loss, message):
    with pytest.raises(LossContractError, match=message):
        run_contract(loss, SPEC, (1.0,))


def literal_gate(pc, pr, rc, rr, beta):
    x = beta * rho_of(pc, pr, rc, rr)
    gate = np.exp(x / 0.05) / (1.0 + np.exp(x / 0.05))
    return (1.0 - gate) * np.log1p(np.exp(-x)) + gate * np.exp(-x)


def test_overflow_that_random_inputs_miss_is_caught_at_extreme_pairs():
    for beta in SPEC.betas:
        check_loss(literal_gate, beta)  # the plain contract test passes at every beta
    with pytest.raises(LossContractError) as caught:
        run_contract(literal_gate, SPEC, (1.0,))
    message = str(caught.value)
    assert "non-finite value (nan)" in message
    assert "rho=100" in message
    assert "np.logaddexp(0, -x)" in message


def test_extreme_checks_can_be_switched_off():
    report = run_contract(literal_gate, ContractSpec(extreme_rhos=()), (1.0,))
    assert report.pointwise


def test_extreme_pairs_have_the_asked_rho_and_valid_log_probabilities():
    batch = extreme_batch((-100.0, 0.0, 100.0))
    assert rho_of(*batch) == pytest.approx([-100.0, 0.0, 100.0])
    assert all(np.all(part < 0) for part in batch)


def test_the_slope_is_measured_in_units_of_beta_times_rho():
    def logistic(pc, pr, rc, rr, beta):
        return np.logaddexp(0.0, -beta * rho_of(pc, pr, rc, rr))

    for beta in (0.01, 1.0, 5.0):
        assert initial_slope(logistic, beta, pointwise=True) == pytest.approx(-0.5, abs=1e-6)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"betas": ()}, "at least one beta"),
        ({"betas": (0.1, -1.0)}, "positive"),
        ({"extreme_rhos": (float("inf"),)}, "finite"),
    ],
)
def test_spec_validation(arguments, message):
    with pytest.raises(ValueError, match=message):
        ContractSpec(**arguments)


def test_spec_round_trips_through_a_dict():
    spec = ContractSpec(betas=(0.1, 1), extreme_rhos=(-5, 5))
    assert ContractSpec.from_dict(spec.to_dict()) == spec
    assert spec.betas == (0.1, 1.0)
