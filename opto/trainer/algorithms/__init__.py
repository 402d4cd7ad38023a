"""Training algorithms: one loop (``SearchLoop``) and the presets users name."""

from opto.trainer.algorithms.base import AlgorithmBase, Trainer, TrainResult
from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.algorithms.loop import SearchLoop, SearchTemplate
from opto.trainer.algorithms.presets import (
    GEPA,
    BasicSearchAlgorithm,
    BeamSearch,
    BeamsearchAlgorithm,
    Minibatch,
    MinibatchAlgorithm,
    ParetobasedPS,
    PrioritySearch,
    SequentialSearch,
    SequentialUpdate,
    UCBSearchAlgorithm,
)
from opto.trainer.algorithms.strategies import BestCandidates, ParetoSampler, Strategies

__all__ = [
    "GEPA",
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
    "SearchTemplate",
    "SequentialSearch",
    "SequentialUpdate",
    "Strategies",
    "TrainResult",
    "Trainer",
    "UCBSearchAlgorithm",
]
