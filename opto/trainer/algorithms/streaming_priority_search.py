"""``StreamingPrioritySearch``: priority search without a validation phase (Trace's
``opto.trainer.algorithms.streaming_priority_search``).

Candidates are scored only by the rollouts they collect while being explored: new proposals go
into the memory unscored, with the highest priority, so they are run on the next training
batch. Each iteration only some (candidate, sub-batch) pairs are improved: ``K`` of them, drawn
without replacement with probabilities ``softmax(priority / exploration_temperature)``, where
``K * num_proposals`` is about ``exploration_ratio * num_candidates``; the other places in the
next round go to candidates from the memory. The draw uses the run's own seeded random
generator.
"""

from __future__ import annotations

import math
import random
from typing import Any

from opto.trainer.algorithms.candidate_memory import ModuleCandidate
from opto.trainer.algorithms.priority_search import PrioritySearch
from opto.trainer.search_template import Samples, save_train_config
from opto.utils.user_warnings import warn_user

__all__ = ["StreamingPrioritySearch"]


class StreamingPrioritySearch(PrioritySearch):
    """Priority search scored by exploration rollouts alone (see the module docstring)."""

    @save_train_config
    def train(
        self,
        *args: Any,
        exploration_ratio: float = 0.5,
        exploration_temperature: float = 1.0,
        **kwargs: Any,
    ):
        """``PrioritySearch.train`` plus:

        Args:
            exploration_ratio: the share (in (0, 1]) of ``num_candidates`` filled by new
                proposals each iteration.
            exploration_temperature: the temperature of the draw of pairs to improve (lower:
                greedier).
        """
        if not 0 < exploration_ratio <= 1:
            raise ValueError(f"exploration_ratio must be in (0, 1], got {exploration_ratio}")
        if exploration_temperature <= 0:
            raise ValueError(
                f"exploration_temperature must be positive, got {exploration_temperature}"
            )
        self._exploration_ratio = exploration_ratio
        self._exploration_temperature = exploration_temperature
        self._rng = random.Random(kwargs.get("seed", 0))
        return super().train(*args, **kwargs)

    def propose(self, samples: Samples, verbose: Any = False, **kwargs: Any) -> list:
        """Proposals from only some (candidate, sub-batch) pairs of ``samples``: about
        ``exploration_ratio * num_candidates / num_proposals`` of them, drawn by softmax of
        their priorities; ``verbose`` prints progress, other keyword arguments go to the
        optimizer's step."""
        if verbose:
            print("--- Proposing new parameters...")
        matched = self.match_candidates_and_samples(self._exploration_candidates, samples.samples)
        pairs = [(c, batch) for c, batches in matched.items() for batch in batches]
        proposals_each = min(
            self.num_proposals, max(1, int(self.num_candidates * self._exploration_ratio))
        )
        if proposals_each < self.num_proposals:
            warn_user(
                f"num_proposals={self.num_proposals} is more than exploration_ratio * "
                f"num_candidates allows; using {proposals_each}"
            )
            self.num_proposals = proposals_each
        chosen = self._draw_pairs(pairs, self._pairs_to_improve())
        return self._propose_from_pairs(chosen, verbose, **kwargs)

    def _pairs_to_improve(self) -> int:
        """K: about ``exploration_ratio * num_candidates / num_proposals``, at least 1, more
        when the memory could not fill the next round, never more than fits."""
        k = max(int(self.num_candidates * self._exploration_ratio / self.num_proposals), 1)
        available = len(self._exploration_candidates) + len(self.memory)
        missing = self.num_candidates - (k * self.num_proposals + available)
        if missing > 0:
            k += missing // self.num_proposals
        return min(k, max(1, self.num_candidates // self.num_proposals))

    def _draw_pairs(self, pairs: list, k: int) -> list:
        """``k`` pairs drawn without replacement, by softmax of their candidates' priorities."""
        if len(pairs) <= k:
            return pairs
        weights = self._softmax_weights([self.compute_exploration_priority(c) for c, _ in pairs])
        chosen, remaining = [], list(range(len(pairs)))
        for _ in range(k):
            left = [weights[i] for i in remaining]
            pick = self._rng.choices(remaining, weights=left if sum(left) > 0 else None)[0]
            remaining.remove(pick)
            chosen.append(pairs[pick])
        return chosen

    def _softmax_weights(self, priorities: list[float | None]) -> list[float]:
        """exp((p - max) / T); an unknown or -inf priority weighs 0, +inf weighs as the max."""
        finite = [p for p in priorities if p is not None and math.isfinite(p)]
        top = max(finite, default=0.0)
        weights = []
        for priority in priorities:
            if priority is None or priority == -math.inf:
                weights.append(0.0)
            elif priority == math.inf:
                weights.append(1.0)
            else:
                weights.append(math.exp((priority - top) / self._exploration_temperature))
        return weights

    def validate(
        self, candidates: list[ModuleCandidate], samples: Samples, verbose: Any = False, **kwargs
    ):
        """No validation runs: every exploration candidate and every one of ``candidates``
        goes back unscored (``samples`` are not needed; ``verbose`` prints that it skips)."""
        if verbose:
            print("--- Skip validating candidates...")
        results = {c: [] for c in self._exploration_candidates}
        results.update({c: [] for c in candidates})
        return results

    def compute_exploration_priority(self, candidate: ModuleCandidate) -> float | None:
        """Untried candidates first (``max_score``); any other ``candidate`` as in
        PrioritySearch."""
        if candidate.num_rollouts == 0:
            return self.max_score
        return super().compute_exploration_priority(candidate)
