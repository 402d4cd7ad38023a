"""Trace's import path for the bases of training algorithms (``opto.trainer.algorithms.algorithm``)."""

from opto.trainer.algorithms.base import AbstractAlgorithm, AlgorithmBase, Trainer

__all__ = ["AbstractAlgorithm", "AlgorithmBase", "Trainer"]
