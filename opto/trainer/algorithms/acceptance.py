"""Acceptance criteria: whether a child goes on, judged against its parent.

An acceptance criterion is one part of ``Strategies``. After a child is proposed from a
parent's minibatch, the loop scores the child on that same minibatch (if the criterion
``needs_minibatch_scores``) and asks ``accept(parent_score, child_score)``; the parent's score
is the one it got on that minibatch when the proposal was made. A child refused here is never
validated and never enters the pool.
"""

from __future__ import annotations


class AcceptanceCriterion:
    """Base of acceptance criteria: subclasses define ``accept``."""

    needs_minibatch_scores = True
    """Whether ``accept`` needs the child's score on its minibatch (the loop then runs it)."""

    def accept(self, parent_score: float, child_score: float) -> bool:
        """Whether the child goes on to evaluation and the pool.

        Args:
            parent_score: the parent's score on the minibatch the child came from.
            child_score: the child's score on that minibatch (``nan`` when the criterion
                does not need minibatch scores and the evaluation policy did not ask for
                them).
        """
        raise NotImplementedError(f"{type(self).__name__} must define accept()")


class AcceptAll(AcceptanceCriterion):
    """Every new child goes on (plain minibatch training, best-of-N, beam search)."""

    needs_minibatch_scores = False

    def accept(self, parent_score: float, child_score: float) -> bool:
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

    def accept(self, parent_score: float, child_score: float) -> bool:
        return child_score - parent_score >= self.threshold

    def __repr__(self) -> str:
        return f"ImprovementGate({self.threshold})"
