"""Acceptance criteria: whether a proposed child goes on to evaluation and the pool.

An acceptance criterion is one part of ``Strategies``. After a step's children are proposed,
the loop scores each on the minibatch it came from (if the criterion ``needs_minibatch_scores``
or the evaluation policy asks for it) and calls ``accept`` with a ``Trial``: the child, its
parent, both scores on that minibatch (the parent's was measured when the proposal was made)
and the pool as it was before the step. A child refused here is never validated and never
enters the pool. A criterion that needs no minibatch scores (novelty against the pool, say)
refuses children before anything is spent on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from opto.trainer.algorithms.candidates import Candidate, Pool


@dataclass
class Trial:
    """A proposed child, as an acceptance criterion sees it.

    Args:
        child: the new candidate (not in the pool yet).
        parent: the candidate it was proposed from.
        parent_score: the parent's score on the child's minibatch.
        child_score: the child's score on it; ``nan`` when nothing asked for it.
        pool: the pool before this step's children enter it (to read, not to change).
    """

    child: Candidate
    parent: Candidate
    parent_score: float
    child_score: float
    pool: Pool


class AcceptanceCriterion:
    """Base of acceptance criteria: subclasses define ``accept``."""

    needs_minibatch_scores = True
    """Whether ``accept`` needs ``Trial.child_score`` (the loop then runs the child)."""

    def accept(self, trial: Trial) -> bool:
        """Whether ``trial.child`` goes on to evaluation and the pool."""
        raise NotImplementedError(f"{type(self).__name__} must define accept()")


class AcceptAll(AcceptanceCriterion):
    """Every new child goes on (plain minibatch training, best-of-N, beam search)."""

    needs_minibatch_scores = False

    def accept(self, trial: Trial) -> bool:
        return True

    def __repr__(self) -> str:
        return "AcceptAll()"


class ImprovementGate(AcceptanceCriterion):
    """A child goes on only if it does at least ``threshold`` better than its parent on the
    minibatch it came from (``threshold=0``: not worse; a tiny positive one: strictly better,
    as GEPA asks).

    Args:
        threshold: the least gain of the child's score over the parent's.
    """

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = threshold

    def accept(self, trial: Trial) -> bool:
        return trial.child_score - trial.parent_score >= self.threshold

    def __repr__(self) -> str:
        return f"ImprovementGate({self.threshold})"
