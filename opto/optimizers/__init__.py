"""Optimizers: read a TraceGraph and feedback, propose and apply new parameter values."""

from opto.optimizers.buffers import FIFOBuffer
from opto.optimizers.opro import OPRO, OPROv2
from opto.optimizers.optimizer import Optimizer, StepResult
from opto.optimizers.optoprime import OptoPrime, OptoPrimeV1, SuggestionExtractionError
from opto.optimizers.optoprime_multi import OptoPrimeMulti
from opto.optimizers.optoprime_v2 import OptoPrimeV2
from opto.optimizers.prompts.optoprime_v2 import (
    OptimizerPromptSymbolSet,
    OptimizerPromptSymbolSet2,
    OptimizerPromptSymbolSetJSON,
)
from opto.optimizers.textgrad import TextGrad

__all__ = [
    "OPRO",
    "FIFOBuffer",
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
