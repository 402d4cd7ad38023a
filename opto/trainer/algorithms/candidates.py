"""Candidates (parameter snapshots with their scores) and the pool the search keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opto.trainer.checkpoint import decode_snapshot, encode_snapshot
from opto.trainer.objectives import (
    ObjectiveConfig,
    aggregate_score_dicts,
    scalarize,
    select_top_k,
)
from opto.trainer.snapshots import snapshot_key


@dataclass
class Candidate:
    """One set of parameter values and what is known of it.

    ``id`` numbers candidates in the order the pool made them; ``snapshot`` maps parameter
    names to values; ``parent`` is the id of the candidate it was proposed from (None for the
    starting point) and ``step`` the step that proposed it. ``validation`` maps a validation
    example's index to its score dict (what the Pareto search compares); ``rollouts`` holds
    the mean score dict of each training batch it ran on. ``key`` is a hash of the snapshot
    (computed when not given), so that a proposal equal to a known candidate is recognised.
    """

    id: int
    snapshot: dict[str, Any]
    parent: int | None = None
    step: int = 0
    validation: dict[int, dict[str, float]] = field(default_factory=dict)
    rollouts: list[dict[str, float]] = field(default_factory=list)
    key: str = ""

    def __post_init__(self) -> None:
        self.key = self.key or snapshot_key(self.snapshot)

    @property
    def visits(self) -> int:
        """How many training batches the candidate ran on (what UCB-like selection counts)."""
        return len(self.rollouts)

    def score_dict(self) -> dict[str, float] | None:
        """Mean per metric: over the validation set if scored there, else over rollouts."""
        if self.validation:
            return aggregate_score_dicts(self.validation.values())
        if self.rollouts:
            return aggregate_score_dicts(self.rollouts)
        return None

    def score(self, objective: ObjectiveConfig) -> float | None:
        """The :meth:`score_dict` made one number by ``objective``; None when unscored."""
        scores = self.score_dict()
        return None if not scores else scalarize(scores, objective)

    def rollout_mean(self, objective: ObjectiveConfig) -> float | None:
        """The mean over its training batches of the score made scalar by ``objective``;
        None before its first batch."""
        if not self.rollouts:
            return None
        return sum(scalarize(r, objective) for r in self.rollouts) / len(self.rollouts)

    def to_json(self) -> dict[str, Any]:
        """The candidate as JSON-ready data, for the checkpoint."""
        return {
            "id": self.id,
            "parent": self.parent,
            "step": self.step,
            "snapshot": encode_snapshot(self.snapshot),
            "validation": {str(i): s for i, s in self.validation.items()},
            "rollouts": self.rollouts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Candidate:
        """The candidate :meth:`to_json` wrote as ``data`` (checked by the checkpoint schema
        before it gets here)."""
        return cls(
            id=data["id"],
            snapshot=decode_snapshot(data["snapshot"]),
            parent=data["parent"],
            step=data["step"],
            validation={int(i): s for i, s in data["validation"].items()},
            rollouts=list(data["rollouts"]),
        )


class Pool:
    """The candidates the search keeps, in the order they were added, and the current one."""

    def __init__(self) -> None:
        self.candidates: list[Candidate] = []
        self.current: int = 0
        self.next_id = 0

    def new(self, snapshot: dict[str, Any], parent: int | None, step: int) -> Candidate:
        """A candidate with the next id for ``snapshot``, proposed from the candidate
        ``parent`` at ``step``; not added to the pool yet (see :meth:`add`)."""
        candidate = Candidate(self.next_id, snapshot, parent=parent, step=step)
        self.next_id += 1
        return candidate

    def add(self, candidate: Candidate) -> None:
        """Keep ``candidate`` in the pool."""
        self.candidates.append(candidate)

    def get(self, candidate_id: int) -> Candidate:
        """The candidate whose id is ``candidate_id``; KeyError if the pool dropped it."""
        for candidate in self.candidates:
            if candidate.id == candidate_id:
                return candidate
        raise KeyError(f"no candidate {candidate_id} in the pool")

    def find(self, key: str) -> Candidate | None:
        """The candidate whose snapshot hash is ``key``, or None (a new set of values)."""
        return next((c for c in self.candidates if c.key == key), None)

    def ranked(self, objective: ObjectiveConfig) -> list[Candidate]:
        """Scored candidates best first (by the objective), then the unscored in order."""
        scored = [c for c in self.candidates if c.score_dict()]
        unscored = [c for c in self.candidates if not c.score_dict()]
        order = select_top_k([(c.score_dict(), c) for c in scored], objective, k=len(scored))
        return [scored[i] for i in order] + unscored

    def keep_best(self, size: int | None, objective: ObjectiveConfig) -> None:
        """Drop all but the ``size`` best candidates by ``objective`` (None: keep all)."""
        if size is not None and len(self.candidates) > size:
            kept = {c.id for c in self.ranked(objective)[:size]}
            self.candidates = [c for c in self.candidates if c.id in kept]

    def to_json(self) -> dict[str, Any]:
        """The pool as JSON-ready data, for the checkpoint."""
        return {
            "candidates": [c.to_json() for c in self.candidates],
            "current": self.current,
            "next_id": self.next_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pool:
        """The pool :meth:`to_json` wrote as ``data``."""
        pool = cls()
        pool.candidates = [Candidate.from_json(c) for c in data["candidates"]]
        pool.current = data["current"]
        pool.next_id = data["next_id"]
        return pool
