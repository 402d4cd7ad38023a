"""Training algorithms.

opto's own loop (``SearchLoop``) runs the algorithms Trace's examples name
(``MinibatchAlgorithm``, ``BasicSearchAlgorithm``, ``BeamsearchAlgorithm``,
``UCBSearchAlgorithm``) and ``GEPA``. Trace's search-template family (``PrioritySearch``,
``SequentialUpdate``, ``SequentialSearch``, ``BeamSearch``, ``ParetobasedPS``,
``StreamingPrioritySearch``, ``POLCA``) is built on ``opto.trainer.search_template``.
"""

from opto.trainer.algorithms.base import AbstractAlgorithm, AlgorithmBase, Trainer, TrainResult
from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.algorithms.classical_algorithms import (
    BeamSearch,
    ParetobasedPS,
    SequentialSearch,
    SequentialUpdate,
)
from opto.trainer.algorithms.loop import SearchLoop
from opto.trainer.algorithms.polca import POLCA
from opto.trainer.algorithms.presets import (
    GEPA,
    BasicSearchAlgorithm,
    BeamsearchAlgorithm,
    Minibatch,
    MinibatchAlgorithm,
    UCBSearchAlgorithm,
)
from opto.trainer.algorithms.priority_search import PrioritySearch
from opto.trainer.algorithms.strategies import BestCandidates, ParetoSampler, Strategies
from opto.trainer.algorithms.streaming_priority_search import StreamingPrioritySearch

__all__ = [
    "GEPA",
    "POLCA",
    "AbstractAlgorithm",
    "AlgorithmBase",
    "BasicSearchAlgorithm",
    "BeamSearch",
    "BeamsearchAlgorithm",
    "BestCandidates",
    "Candidate",
    "Minibatch",
    "MinibatchAlgorithm",
    "ParetoSampler",
    "ParetobasedPS",
    "Pool",
    "PrioritySearch",
    "SearchLoop",
    "SequentialSearch",
    "SequentialUpdate",
    "Strategies",
    "StreamingPrioritySearch",
    "TrainResult",
    "Trainer",
    "UCBSearchAlgorithm",
]
