"""Trace's import path for priority search."""

from opto.trainer.algorithms.presets import PrioritySearch

__all__ = ["PrioritySearch"]
