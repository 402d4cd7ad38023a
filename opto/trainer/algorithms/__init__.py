"""Training algorithms.

opto's own loop (``SearchLoop``) runs the algorithms Trace's examples name
(``MinibatchAlgorithm``, ``BasicSearchAlgorithm``, ``BeamsearchAlgorithm``,
``UCBSearchAlgorithm``) and ``GEPA``, each a choice of the loop's parts (``Strategies``: a
``Selector``, an ``AcceptanceCriterion``, an ``EvaluationPolicy``, a ``PoolPolicy``); a run's
progress is one ``RunState``. Trace's search-template family (``PrioritySearch``,
``SequentialUpdate``, ``SequentialSearch``, ``BeamSearch``, ``ParetobasedPS``,
``StreamingPrioritySearch``, ``POLCA``) is built on ``opto.trainer.search_template``.
"""

from opto.trainer.algorithms.acceptance import (
    AcceptAll,
    AcceptanceCriterion,
    ImprovementGate,
    Trial,
)
from opto.trainer.algorithms.base import AbstractAlgorithm, AlgorithmBase, Trainer, TrainResult
from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.algorithms.classical_algorithms import (
    BeamSearch,
    ParetobasedPS,
    SequentialSearch,
    SequentialUpdate,
)
from opto.trainer.algorithms.evaluation_policy import (
    EvaluationPolicy,
    FullValidation,
    NoValidation,
    ValidationSet,
)
from opto.trainer.algorithms.loop import SearchLoop
from opto.trainer.algorithms.polca import POLCA
from opto.trainer.algorithms.pool_policy import KeepBest, KeepLatest, PoolPolicy
from opto.trainer.algorithms.presets import (
    GEPA,
    BasicSearchAlgorithm,
    BeamsearchAlgorithm,
    Minibatch,
    MinibatchAlgorithm,
    UCBSearchAlgorithm,
)
from opto.trainer.algorithms.priority_search import PrioritySearch
from opto.trainer.algorithms.run_state import RunState
from opto.trainer.algorithms.selection import BestCandidates, ParetoSampler, Selector
from opto.trainer.algorithms.strategies import Strategies
from opto.trainer.algorithms.streaming_priority_search import StreamingPrioritySearch

__all__ = [
    "GEPA",
    "POLCA",
    "AbstractAlgorithm",
    "AcceptAll",
    "AcceptanceCriterion",
    "AlgorithmBase",
    "BasicSearchAlgorithm",
    "BeamSearch",
    "BeamsearchAlgorithm",
    "BestCandidates",
    "Candidate",
    "EvaluationPolicy",
    "FullValidation",
    "ImprovementGate",
    "KeepBest",
    "KeepLatest",
    "Minibatch",
    "MinibatchAlgorithm",
    "NoValidation",
    "ParetoSampler",
    "ParetobasedPS",
    "Pool",
    "PoolPolicy",
    "PrioritySearch",
    "RunState",
    "SearchLoop",
    "Selector",
    "SequentialSearch",
    "SequentialUpdate",
    "Strategies",
    "StreamingPrioritySearch",
    "TrainResult",
    "Trainer",
    "Trial",
    "UCBSearchAlgorithm",
    "ValidationSet",
]
