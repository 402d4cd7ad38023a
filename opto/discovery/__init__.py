"""opto.discovery: LLM-driven discovery of algorithms (needs the ``discovery`` extra).

The preference task is a numpy miniature of preference optimisation (DPO and its relatives) on
which a candidate loss is trained and measured exactly in well under a second. The discovery
loop (:class:`DiscoveryLoop`) has an LLM propose losses, checks and trains each one in a sandbox,
records it in a resumable JSON archive and feeds the result back. ``import opto`` does not
import this package; numpy is needed only here.
"""

from opto.discovery.archive import Archive, Entry
from opto.discovery.context import MODES, ArchiveView
from opto.discovery.contract import ContractReport, ContractSpec, run_contract
from opto.discovery.derivatives import LossCheck, check_loss, loss_and_derivatives
from opto.discovery.errors import (
    ArchiveError,
    DiscoveryError,
    EnvironmentProblemError,
    LossContractError,
    ProposalParseError,
    TrainingDivergedError,
)
from opto.discovery.evaluator import Outcome, ProposalEvaluator
from opto.discovery.interface import code_hash, loss_function_name, normalize_code
from opto.discovery.loop import DiscoveryLoop
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
from opto.discovery.objective import LossObjective
from opto.discovery.preference_task import (
    Evaluation,
    PreferenceTask,
    TrainedPolicy,
    measure,
    train_policy,
)
from opto.discovery.proposal import Proposal, parse_proposal
from opto.discovery.world import PRESETS, PreferenceConfig, PreferenceWorld, make_world

__all__ = [
    "MODES",
    "PRESETS",
    "REFERENCE_LOSSES",
    "Archive",
    "ArchiveError",
    "ArchiveView",
    "ContractReport",
    "ContractSpec",
    "DiscoveryError",
    "DiscoveryLoop",
    "Entry",
    "EnvironmentProblemError",
    "Evaluation",
    "LossCheck",
    "LossContractError",
    "LossObjective",
    "Outcome",
    "PreferenceConfig",
    "PreferenceLoss",
    "PreferenceTask",
    "PreferenceWorld",
    "Proposal",
    "ProposalEvaluator",
    "ProposalParseError",
    "TrainedPolicy",
    "TrainingDivergedError",
    "check_loss",
    "code_hash",
    "dpo",
    "ipo",
    "kto_pair",
    "loss_and_derivatives",
    "loss_function_name",
    "lrml",
    "make_world",
    "measure",
    "normalize_code",
    "padll",
    "parse_proposal",
    "reference_loss_source",
    "run_contract",
    "slic",
    "train_policy",
]
