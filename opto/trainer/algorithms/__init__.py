"""Training algorithms.

opto's own loop (``SearchLoop``) runs the algorithms Trace's examples name
(``MinibatchAlgorithm``, ``BasicSearchAlgorithm``, ``BeamsearchAlgorithm``,
``UCBSearchAlgorithm``) and ``GEPA``, each a choice of the loop's parts (``Strategies``: a
``Selector``, an ``AcceptanceCriterion``, an ``EvaluationPolicy``, a ``PoolPolicy``); a run's
progress is one ``RunState``. Trace's search-template family (``PrioritySearch``,
``SequentialUpdate``, ``SequentialSearch``, ``BeamSearch``, ``ParetobasedPS``,
``StreamingPrioritySearch``, ``POLCA``) is built on ``opto.trainer.search_template``.

Search parts peers have, as parts of the same loop: ``Islands`` (a selector: sub-populations
with migration), ``MapElites``/``EliteSampler`` (a grid of elites over chosen ``Feature``s),
``ParetoFront``/``ParetoSampler`` (Pareto selection over examples or objectives), ``Novelty``
(an acceptance criterion refusing candidates equal up to ``canonical_code``, or close in
embedding), ``Cascade`` (an evaluation policy with gated ``Stage``s), and ``StopCondition``s.
"""

from opto.trainer.algorithms.acceptance import (
    AcceptAll,
    AcceptanceCriterion,
    ImprovementGate,
    Trial,
)
from opto.trainer.algorithms.base import AbstractAlgorithm, AlgorithmBase, Trainer, TrainResult
from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.algorithms.canonical_code import canonical_code
from opto.trainer.algorithms.cascade import Cascade, Stage
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
from opto.trainer.algorithms.islands import Islands
from opto.trainer.algorithms.loop import SearchLoop
from opto.trainer.algorithms.map_elites import EliteSampler, Feature, MapElites
from opto.trainer.algorithms.novelty import Novelty
from opto.trainer.algorithms.pareto_pool import ParetoFront
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
from opto.trainer.algorithms.selection import BestCandidates, Newest, ParetoSampler, Selector
from opto.trainer.algorithms.stopping import (
    MaxEvaluations,
    NoImprovement,
    ScoreThreshold,
    StopCondition,
    StopFile,
    TimeLimit,
)
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
    "Cascade",
    "EliteSampler",
    "EvaluationPolicy",
    "Feature",
    "FullValidation",
    "ImprovementGate",
    "Islands",
    "KeepBest",
    "KeepLatest",
    "MapElites",
    "MaxEvaluations",
    "Minibatch",
    "MinibatchAlgorithm",
    "Newest",
    "NoImprovement",
    "NoValidation",
    "Novelty",
    "ParetoFront",
    "ParetoSampler",
    "ParetobasedPS",
    "Pool",
    "PoolPolicy",
    "PrioritySearch",
    "RunState",
    "ScoreThreshold",
    "SearchLoop",
    "Selector",
    "SequentialSearch",
    "SequentialUpdate",
    "Stage",
    "StopCondition",
    "StopFile",
    "Strategies",
    "StreamingPrioritySearch",
    "TimeLimit",
    "TrainResult",
    "Trainer",
    "Trial",
    "UCBSearchAlgorithm",
    "ValidationSet",
    "canonical_code",
]
