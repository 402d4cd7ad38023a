"""opto.discovery: LLM-driven discovery of algorithms (needs the ``discovery`` extra).

The preference task is a numpy miniature of preference optimisation (DPO and its relatives) on
which a candidate loss is trained and measured exactly in well under a second. ``discover``
runs DiscoPOP's loop on opto's core: an LLM proposes losses through an optimizer (the paper's
transcript, ``TranscriptOptimizer``, or OptoPrime), each is checked and trained in a sandbox by
the task's evaluator (``LossEvaluator``), and the search, its archive and its resumable run
directory are ``optimize_anything``'s (the trainer's loop). Archives of the earlier
``DiscoveryLoop`` load with ``Archive.load``. ``import opto`` does not import this package;
numpy is needed only here.
"""

from opto.discovery.archive import Archive, Entry
from opto.discovery.contract import ContractReport, ContractSpec, run_contract
from opto.discovery.derivatives import LossCheck, check_loss, loss_and_derivatives
from opto.discovery.discover import (
    DEFAULT_BASELINES,
    best_code_of_archive,
    discover,
    report,
)
from opto.discovery.errors import (
    ArchiveError,
    DiscoveryError,
    EnvironmentProblemError,
    LossContractError,
    ProposalParseError,
    TrainingDivergedError,
)
from opto.discovery.evaluator import Outcome, ProposalEvaluator
from opto.discovery.fitness import FAILURE_SCORE, LossEvaluator, side_info_of
from opto.discovery.interface import code_hash, loss_function_name, normalize_code
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
from opto.discovery.transcript import TranscriptOptimizer
from opto.discovery.world import PRESETS, PreferenceConfig, PreferenceWorld, make_world

__all__ = [
    "DEFAULT_BASELINES",
    "FAILURE_SCORE",
    "PRESETS",
    "REFERENCE_LOSSES",
    "Archive",
    "ArchiveError",
    "ContractReport",
    "ContractSpec",
    "DiscoveryError",
    "Entry",
    "EnvironmentProblemError",
    "Evaluation",
    "LossCheck",
    "LossContractError",
    "LossEvaluator",
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
    "TranscriptOptimizer",
    "best_code_of_archive",
    "check_loss",
    "code_hash",
    "discover",
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
    "report",
    "run_contract",
    "side_info_of",
    "slic",
    "train_policy",
]
