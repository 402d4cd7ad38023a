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

    ``validation`` maps a validation example's index to its score dict (what the Pareto
    search compares); ``rollouts`` holds the mean score dict of each training batch it ran on.
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
        return len(self.rollouts)

    def score_dict(self) -> dict[str, float] | None:
        """Mean per metric: over the validation set if scored there, else over rollouts."""
        if self.validation:
            return aggregate_score_dicts(self.validation.values())
        if self.rollouts:
            return aggregate_score_dicts(self.rollouts)
        return None

    def score(self, objective: ObjectiveConfig) -> float | None:
        scores = self.score_dict()
        return None if not scores else scalarize(scores, objective)

    def rollout_mean(self, objective: ObjectiveConfig) -> float | None:
        if not self.rollouts:
            return None
        return sum(scalarize(r, objective) for r in self.rollouts) / len(self.rollouts)

    def to_json(self) -> dict[str, Any]:
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
        candidate = Candidate(self.next_id, snapshot, parent=parent, step=step)
        self.next_id += 1
        return candidate

    def add(self, candidate: Candidate) -> None:
        self.candidates.append(candidate)

    def get(self, candidate_id: int) -> Candidate:
        for candidate in self.candidates:
            if candidate.id == candidate_id:
                return candidate
        raise KeyError(f"no candidate {candidate_id} in the pool")

    def find(self, key: str) -> Candidate | None:
        return next((c for c in self.candidates if c.key == key), None)

    def ranked(self, objective: ObjectiveConfig) -> list[Candidate]:
        """Scored candidates best first (by the objective), then the unscored in order."""
        scored = [c for c in self.candidates if c.score_dict()]
        unscored = [c for c in self.candidates if not c.score_dict()]
        order = select_top_k([(c.score_dict(), c) for c in scored], objective, k=len(scored))
        return [scored[i] for i in order] + unscored

    def keep_best(self, size: int | None, objective: ObjectiveConfig) -> None:
        if size is not None and len(self.candidates) > size:
            kept = {c.id for c in self.ranked(objective)[:size]}
            self.candidates = [c for c in self.candidates if c.id in kept]

    def to_json(self) -> dict[str, Any]:
        return {
            "candidates": [c.to_json() for c in self.candidates],
            "current": self.current,
            "next_id": self.next_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pool:
        pool = cls()
        pool.candidates = [Candidate.from_json(c) for c in data["candidates"]]
        pool.current = data["current"]
        pool.next_id = data["next_id"]
        return pool
