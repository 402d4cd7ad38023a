"""opto.discovery: tasks for LLM-driven discovery of algorithms (needs the ``discovery`` extra).

The preference task is a numpy miniature of preference optimisation (DPO and its relatives) on
which a candidate loss is trained and measured exactly in well under a second. ``import opto``
does not import this package; numpy is needed only here.
"""

from opto.discovery.derivatives import LossCheck, check_loss, loss_and_derivatives
from opto.discovery.errors import DiscoveryError, LossContractError, TrainingDivergedError
from opto.discovery.losses import (
    REFERENCE_LOSSES,
    PreferenceLoss,
    dpo,
    ipo,
    kto_pair,
    lrml,
    padll,
    reference_loss_source,
    slic,
)
from opto.discovery.preference_task import (
    Evaluation,
    PreferenceTask,
    TrainedPolicy,
    measure,
    train_policy,
)
from opto.discovery.world import PRESETS, PreferenceConfig, PreferenceWorld, make_world

__all__ = [
    "PRESETS",
    "REFERENCE_LOSSES",
    "DiscoveryError",
    "Evaluation",
    "LossCheck",
    "LossContractError",
    "PreferenceConfig",
    "PreferenceLoss",
    "PreferenceTask",
    "PreferenceWorld",
    "TrainedPolicy",
    "TrainingDivergedError",
    "check_loss",
    "dpo",
    "ipo",
    "kto_pair",
    "loss_and_derivatives",
    "lrml",
    "make_world",
    "measure",
    "padll",
    "reference_loss_source",
    "slic",
    "train_policy",
]
