"""Trace's import path for the priority-search presets (sequential, best-of-N, beam, Pareto)."""

from opto.trainer.algorithms.presets import (
    BeamSearch,
    ParetobasedPS,
    SequentialSearch,
    SequentialUpdate,
)

__all__ = ["BeamSearch", "ParetobasedPS", "SequentialSearch", "SequentialUpdate"]
