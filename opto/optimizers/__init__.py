"""Optimizers: read a TraceGraph and feedback, propose and apply new parameter values."""

from opto.optimizers.buffers import FIFOBuffer
from opto.optimizers.optimizer import Optimizer, StepResult
from opto.optimizers.optoprime import OptoPrime, OptoPrimeV1, SuggestionExtractionError

__all__ = [
    "FIFOBuffer",
    "Optimizer",
    "OptoPrime",
    "OptoPrimeV1",
    "StepResult",
    "SuggestionExtractionError",
]
