"""Trace's import path for the minibatch and best-of-N trainers."""

from opto.trainer.algorithms.presets import BasicSearchAlgorithm, Minibatch, MinibatchAlgorithm

__all__ = ["BasicSearchAlgorithm", "Minibatch", "MinibatchAlgorithm"]
