"""Trace's import path for the trainer base class (``opto.trainer.algorithms.algorithm``)."""

from opto.trainer.algorithms.base import AlgorithmBase, Trainer

__all__ = ["AlgorithmBase", "Trainer"]
