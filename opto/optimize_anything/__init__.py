"""``optimize_anything``: improve any string, code or dict of named components against an
evaluator, with GEPA's and OpenTrace's argument names, on opto's trainer (docs/optimize_anything.md).

    import opto
    result = opto.optimize_anything("seed text", evaluator=score, config=config)

    import opto.optimize_anything as oa   # OpenTrace's and GEPA's module layout
    result = oa.optimize_anything(seed, evaluator=score, config=oa.GEPAConfig(...))

The module itself is callable, so ``opto.optimize_anything(...)`` (the function) and
``opto.optimize_anything.GEPAConfig`` (the module's names) both work under the one name
OpenTrace gives the module.
"""

import sys
import types

from opto.optimize_anything.api import SideInfoGuide, optimize_anything
from opto.optimize_anything.candidate import CandidateCodeError, CandidateModel
from opto.optimize_anything.config import EngineConfig, GEPAConfig, ReflectionConfig
from opto.optimize_anything.result import GEPAResult
from opto.optimize_anything.side_info import EvaluationRecord, feedback_text, log
from opto.trainer.algorithms.stopping import (
    MaxEvaluations,
    NoImprovement,
    ScoreThreshold,
    StopCondition,
    StopFile,
    TimeLimit,
)

__all__ = [
    "CandidateCodeError",
    "CandidateModel",
    "EngineConfig",
    "EvaluationRecord",
    "GEPAConfig",
    "GEPAResult",
    "MaxEvaluations",
    "NoImprovement",
    "ReflectionConfig",
    "ScoreThreshold",
    "SideInfoGuide",
    "StopCondition",
    "StopFile",
    "TimeLimit",
    "feedback_text",
    "log",
    "optimize_anything",
]


class _CallableModule(types.ModuleType):
    """This module's type: calling the module calls ``optimize_anything``."""

    def __call__(self, *args, **kwargs):
        return optimize_anything(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
