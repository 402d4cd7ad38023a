"""The decisions of the search loop, as small objects that can be swapped and tested alone.

- a *selector* picks the candidates to improve this step (best k, UCB, Pareto sampling);
- ``proposals`` says how many children each gets (each from its own minibatch);
- ``gate`` keeps a child only if it does at least ``gate`` better than its parent on the
  minibatch it came from (None: keep all);
- ``validate`` scores kept children on the validation set; ``rollout_children`` scores them on
  their minibatch (the statistics UCB needs);
- ``keep`` says what stays in the pool: ``"latest"`` (the newest kept child replaces the
  current candidate, as plain minibatch training does) or ``"best"`` (the ``pool_size`` best).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol

from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.objectives import ObjectiveConfig, apply_minimize, scalarize


class Selector(Protocol):
    def select(self, pool: Pool, objective: ObjectiveConfig, rng: random.Random) -> list[Candidate]:
        """The parents to propose from this step."""
        ...


class BestCandidates:
    """The ``k`` best candidates, by mean score or by an upper confidence bound (UCB).

    UCB priority is ``mean + exploration * sqrt(ln(total visits) / visits)`` over the training
    batches a candidate ran on; candidates never run come first.
    """

    def __init__(self, k: int = 1, score: str = "mean", exploration: float = 1.0) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if score not in ("mean", "ucb"):
            raise ValueError(f"score must be 'mean' or 'ucb', got {score!r}")
        self.k = k
        self.score = score
        self.exploration = exploration

    def select(self, pool: Pool, objective: ObjectiveConfig, rng: random.Random) -> list[Candidate]:
        if self.score == "mean":
            return pool.ranked(objective)[: self.k]
        total = sum(c.visits for c in pool.candidates)

        def priority(candidate: Candidate) -> float:
            mean = candidate.rollout_mean(objective)
            if mean is None:
                return math.inf
            bonus = math.sqrt(math.log(max(total, 1)) / candidate.visits)
            return mean + self.exploration * bonus

        order = sorted(pool.candidates, key=lambda c: -priority(c))
        return order[: self.k]


class ParetoSampler:
    """GEPA-style: sample a candidate that is best somewhere, in proportion to how often.

    ``frontier="instance"``: the keys are validation examples; ``"objective"``: metrics;
    ``"hybrid"``: both. For each key the candidates with the top value win it; a candidate is
    drawn with probability proportional to the number of keys it wins. Candidates without
    validation scores fall back to the best by mean.
    """

    def __init__(self, frontier: str = "instance") -> None:
        if frontier not in ("instance", "objective", "hybrid"):
            raise ValueError(f"frontier must be instance, objective or hybrid, got {frontier!r}")
        self.frontier = frontier

    def wins(self, pool: Pool, objective: ObjectiveConfig) -> dict[int, int]:
        """``candidate id -> number of keys where it has the top value``."""
        values: dict[tuple, dict[int, float]] = {}
        for candidate in pool.candidates:
            if self.frontier in ("instance", "hybrid"):
                for index, scores in candidate.validation.items():
                    values.setdefault(("example", index), {})[candidate.id] = scalarize(
                        scores, objective
                    )
            if self.frontier in ("objective", "hybrid") and candidate.validation:
                means = apply_minimize(candidate.score_dict() or {}, objective.minimize)
                for metric, value in means.items():
                    values.setdefault(("metric", metric), {})[candidate.id] = value
        counts: dict[int, int] = {}
        for by_candidate in values.values():
            top = max(by_candidate.values())
            for candidate_id, value in by_candidate.items():
                if value >= top - 1e-12:
                    counts[candidate_id] = counts.get(candidate_id, 0) + 1
        return counts

    def select(self, pool: Pool, objective: ObjectiveConfig, rng: random.Random) -> list[Candidate]:
        counts = self.wins(pool, objective)
        if not counts:
            return pool.ranked(objective)[:1]
        front = [c for c in pool.candidates if c.id in counts]
        weights = [counts[c.id] for c in front]
        return [rng.choices(front, weights=weights, k=1)[0]]


@dataclass
class Strategies:
    """One search algorithm, as the settings of the shared loop (see the module docstring)."""

    selector: Selector
    proposals: int = 1
    gate: float | None = None
    validate: bool = False
    rollout_children: bool = False
    keep: str = "best"
    pool_size: int | None = None

    def __post_init__(self) -> None:
        if self.proposals < 1:
            raise ValueError(f"proposals must be at least 1, got {self.proposals}")
        if self.keep not in ("latest", "best"):
            raise ValueError(f"keep must be 'latest' or 'best', got {self.keep!r}")
        if self.pool_size is not None and self.pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {self.pool_size}")
