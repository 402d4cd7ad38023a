"""Candidate selection: which candidates of the pool the loop improves this step.

A selector is one part of ``Strategies`` (see ``opto.trainer.algorithms.strategies``). It looks
at the pool and returns the parents; it may use the run's seeded ``rng`` (saved in every
checkpoint, so a resumed run draws the same parents) and nothing else random.
"""

from __future__ import annotations

import math
import random

from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.objectives import ObjectiveConfig, apply_minimize, scalarize


class Selector:
    """Base of selectors: subclasses define ``select``; ``parents`` serves cost estimates."""

    def select(self, pool: Pool, objective: ObjectiveConfig, rng: random.Random) -> list[Candidate]:
        """The parents to propose from this step (candidates of ``pool``).

        Args:
            pool: the candidates kept so far.
            objective: how score dicts rank (``ObjectiveConfig``).
            rng: the run's random generator (use it for every random choice).
        """
        raise NotImplementedError(f"{type(self).__name__} must define select()")

    def parents(self, pool_size: int) -> int:
        """How many parents ``select`` returns from a pool of ``pool_size`` candidates (what
        ``train(dry_run=True)`` multiplies by); one unless a selector says otherwise."""
        return 1

    def select_at(
        self, pool: Pool, objective: ObjectiveConfig, rng: random.Random, step: int
    ) -> list[Candidate]:
        """The parents for step ``step`` (from 1); what the loop calls. Selectors whose
        choice depends on the step (islands taking turns) override this; others define
        ``select`` only.

        Args:
            pool, objective, rng: as for ``select``.
            step: the step about to run, counted from 1.
        """
        return self.select(pool, objective, rng)


class BestCandidates(Selector):
    """The ``k`` best candidates, by mean score or by an upper confidence bound (UCB).

    UCB priority is ``mean + exploration * sqrt(ln(total visits) / visits)`` over the training
    batches a candidate ran on; candidates never run come first.

    Args:
        k: how many parents.
        score: ``"mean"`` (the candidate's score) or ``"ucb"``.
        exploration: the weight of the UCB bonus.
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

    def parents(self, pool_size: int) -> int:
        return min(self.k, pool_size)

    def __repr__(self) -> str:
        return f"BestCandidates(k={self.k}, score={self.score!r}, exploration={self.exploration})"


class ParetoSampler(Selector):
    """GEPA-style: sample a candidate that is best somewhere, in proportion to how often.

    Args:
        frontier: ``"instance"``: the keys are validation examples; ``"objective"``: metrics;
            ``"hybrid"``: both.

    For each key the candidates with the top value win it; a candidate is drawn with
    probability proportional to the number of keys it wins. Candidates without validation
    scores fall back to the best by mean.
    """

    def __init__(self, frontier: str = "instance") -> None:
        if frontier not in ("instance", "objective", "hybrid"):
            raise ValueError(f"frontier must be instance, objective or hybrid, got {frontier!r}")
        self.frontier = frontier

    def wins(self, pool: Pool, objective: ObjectiveConfig) -> dict[int, int]:
        """``candidate id -> number of keys where it has the top value`` over the candidates
        of ``pool``, example scores made scalar by ``objective``."""
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

    def __repr__(self) -> str:
        return f"ParetoSampler(frontier={self.frontier!r})"


class Newest(Selector):
    """The candidate added to the pool last: the search follows its own latest proposal,
    whatever it scored (DiscoPOP's transcript loop, where each turn answers the last one)."""

    def select(self, pool: Pool, objective: ObjectiveConfig, rng: random.Random) -> list[Candidate]:
        return [max(pool.candidates, key=lambda c: c.id)]

    def __repr__(self) -> str:
        return "Newest()"
