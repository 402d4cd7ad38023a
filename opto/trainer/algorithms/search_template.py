"""Trace's import path for the generic search loop (here one ``SearchLoop`` serves all)."""

from opto.trainer.algorithms.loop import SearchLoop, SearchTemplate

__all__ = ["SearchLoop", "SearchTemplate"]
