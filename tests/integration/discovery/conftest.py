"""Shared settings: a tiny world and tight sandbox limits, so each proposal takes under a second
and hostile code is stopped within about a second of CPU."""

import pytest

pytest.importorskip("numpy")

from opto.discovery import LossObjective, PreferenceConfig
from opto.runtime import SubprocessPolicy

TINY = PreferenceConfig(n_prompts=20, n_responses=4, n_pairs=120, epochs=1, batch_size=32)
SIGNATURE = (
    "policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, "
    "reference_rejected_logps, beta"
)
RHO = (
    "    rho = (policy_chosen_logps - reference_chosen_logps) - "
    "(policy_rejected_logps - reference_rejected_logps)\n"
)


def loss_code(name, body, header=""):
    """A loss function's source: the interface, rho, then ``body`` (indented lines)."""
    return f"{header}def {name}({SIGNATURE}):\n{RHO}{body}"


@pytest.fixture
def objective():
    return LossObjective(preset=TINY, betas=(0.5, 2.0), seeds=(0, 1), kl_budget=0.3)


@pytest.fixture
def policies():
    return {
        "contract_policy": SubprocessPolicy(
            wall_time=15, cpu_time=1, memory="1GiB", echo_output=False
        ),
        "training_policy": SubprocessPolicy(
            wall_time=60, cpu_time=30, memory="1GiB", echo_output=False
        ),
    }


@pytest.fixture
def code():
    """``code(name, body, header="")`` builds a loss's source."""
    return loss_code
