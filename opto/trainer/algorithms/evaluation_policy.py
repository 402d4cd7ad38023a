"""Evaluation policies: what the loop scores a candidate on, beyond the minibatch it came from.

An evaluation policy is one part of ``Strategies``. It says whether children are also scored
on their own minibatch (``minibatch``: the statistics UCB needs), and, in ``evaluate``, which
examples of the validation set each accepted child is scored on, through the run's
``ValidationSet``. The scores land in ``Candidate.validation`` (example index -> score dict),
which the pool ranks by and the Pareto sampler compares. ``evaluate`` also returns the
candidates that go on to the pool, so a policy that scores in stages (a short evaluation, then
the full one) can drop a candidate between them.

The loop calls ``evaluate`` for the accepted children of each step, and once when a run starts
or resumes for the pool's candidates that have no validation scores yet (the first candidate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from opto.trainer.algorithms.candidates import Candidate


class ValidationSet(Protocol):
    """The run's validation data, as an evaluation policy sees it."""

    size: int
    """How many examples it has (indices run from 0 to ``size - 1``)."""

    def score(self, candidates: Sequence[Candidate], examples: Sequence[Sequence[int]]) -> None:
        """Score each of ``candidates`` on its ``examples`` (one list of indices per
        candidate, all in one pool of work) and store each score dict in
        ``candidate.validation``."""
        ...


class EvaluationPolicy:
    """Base of evaluation policies; on its own it validates nothing.

    Args:
        minibatch: also score each child on the minibatch it came from.
    """

    minibatch = False
    """Whether children are also scored on their minibatch (a subclass that does not call
    this ``__init__`` keeps this default)."""

    def __init__(self, minibatch: bool = False) -> None:
        self.minibatch = minibatch

    def evaluate(self, candidates: list[Candidate], validation: ValidationSet) -> list[Candidate]:
        """Score ``candidates`` on the validation set as the policy wants; return those that
        go on to the pool (here: all, unscored)."""
        return list(candidates)

    def examples_per_candidate(self, size: int) -> int:
        """How many validation examples a new candidate is scored on, for a validation set
        of ``size`` examples (what ``train(dry_run=True)`` counts)."""
        return 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(minibatch={self.minibatch})"


class NoValidation(EvaluationPolicy):
    """Candidates are never scored on the validation set (plain minibatch training; UCB
    without a validation set, with ``minibatch=True``)."""


class FullValidation(EvaluationPolicy):
    """Every candidate is scored on every validation example (once: examples it already has
    a score for are not run again).

    Args:
        minibatch: also score each child on the minibatch it came from.
    """

    def evaluate(self, candidates: list[Candidate], validation: ValidationSet) -> list[Candidate]:
        missing = [
            [i for i in range(validation.size) if i not in candidate.validation]
            for candidate in candidates
        ]
        todo = [(c, examples) for c, examples in zip(candidates, missing, strict=True) if examples]
        if todo:
            validation.score([c for c, _ in todo], [examples for _, examples in todo])
        return list(candidates)

    def examples_per_candidate(self, size: int) -> int:
        return size
