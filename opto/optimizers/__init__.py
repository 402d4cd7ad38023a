"""Optimizers: read a TraceGraph and feedback, propose and apply new parameter values."""

from opto.optimizers.buffers import FIFOBuffer
from opto.optimizers.opro import OPRO
from opto.optimizers.opro_v2 import OPROPromptSymbolSet, OPROv2
from opto.optimizers.optimizer import AbstractOptimizer, Optimizer, StepResult
from opto.optimizers.optoprime import OptoPrime, OptoPrimeV1, SuggestionExtractionError
from opto.optimizers.optoprime_v2 import OptoPrimeV2
from opto.optimizers.optoprimemulti import OptoPrimeMulti
from opto.optimizers.symbol_sets import (
    OptimizerPromptSymbolSet,
    OptimizerPromptSymbolSet2,
    OptimizerPromptSymbolSetJSON,
)
from opto.optimizers.textgrad import TextGrad

__all__ = [
    "OPRO",
    "AbstractOptimizer",
    "FIFOBuffer",
    "OPROPromptSymbolSet",
    "OPROv2",
    "Optimizer",
    "OptimizerPromptSymbolSet",
    "OptimizerPromptSymbolSet2",
    "OptimizerPromptSymbolSetJSON",
    "OptoPrime",
    "OptoPrimeMulti",
    "OptoPrimeV1",
    "OptoPrimeV2",
    "StepResult",
    "SuggestionExtractionError",
    "TextGrad",
]
