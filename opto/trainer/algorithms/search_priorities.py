"""How ``PrioritySearch`` ranks its candidates: the priority a candidate is explored with, the
one it is exploited with, and the priority of the agent's copies that seed the memory.

They are methods (mixed into ``PrioritySearch`` as ``CandidatePriorities``) so that a
subclass can rank differently by overriding one of them, as in Trace.
"""

from __future__ import annotations

from opto.trainer.algorithms.candidate_memory import ModuleCandidate
from opto.trainer.objectives import apply_minimize, to_score_dict, weighted_scalarize


class CandidatePriorities:
    """The priority rules of ``PrioritySearch`` (mixed into it); they read its options
    ``score_function``, ``ucb_exploration_constant`` and ``objective_config``, and the
    score range and iteration count of the run."""

    def _seed_priority(self) -> float:
        """The priority of the agent's copies that fill the memory at the start."""
        return self.max_score

    def compute_exploitation_priority(self, candidate: ModuleCandidate) -> float | None:
        """How good ``candidate`` is to use: its mean score."""
        if not isinstance(candidate, ModuleCandidate):
            raise TypeError(f"expected a ModuleCandidate, got {type(candidate).__name__}")
        return candidate.mean_score()

    def compute_exploration_priority(self, candidate: ModuleCandidate) -> float | None:
        """How promising ``candidate`` is to explore (see ``score_function``; with a
        multi-objective config, its weighted mean metrics)."""
        if not isinstance(candidate, ModuleCandidate):
            raise TypeError(f"expected a ModuleCandidate, got {type(candidate).__name__}")
        config = self.objective_config
        if config is not None and candidate.mean_score_dict() is not None:
            metrics = apply_minimize(to_score_dict(candidate.mean_score_dict()), config.minimize)
            if config.weights:
                return weighted_scalarize(metrics, config.weights, config.missing_value)
            return sum(metrics.values()) / len(metrics)
        if self.score_function == "time":
            return candidate.created_time
        if self.score_function == "ucb":
            return candidate.compute_score_confidence(
                self.min_score, self.max_score, self.ucb_exploration_constant, self.n_iters + 1
            )[2]
        return candidate.mean_score()
