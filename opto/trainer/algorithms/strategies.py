"""``Strategies``: one search algorithm, as the parts the shared loop is given.

A step of the loop (``opto.trainer.algorithms.loop``) asks each part one question:

- the **selector** (``opto.trainer.algorithms.selection``): which candidates to improve;
- ``proposals``: how many children each parent gets, each from its own minibatch;
- the **acceptance criterion** (``acceptance``): does a child go on, judged against its parent
  on the minibatch it came from;
- the **evaluation policy** (``evaluation_policy``): what else a child is scored on (its
  minibatch, validation examples), possibly in stages;
- the **pool policy** (``pool_policy``): which candidates stay and which one is current.

The loop stays one loop; an algorithm is a choice of parts, and a new rule is a new part.

``Strategies`` also takes the older shorthand settings, each of which makes a part: ``gate``
(``ImprovementGate(gate)``), ``validate`` and ``rollout_children`` (``FullValidation`` or
``NoValidation``, with ``minibatch=rollout_children``), ``keep`` and ``pool_size``
(``KeepBest(pool_size)`` or ``KeepLatest()``).
"""

from __future__ import annotations

from opto.trainer.algorithms.acceptance import AcceptAll, AcceptanceCriterion, ImprovementGate
from opto.trainer.algorithms.evaluation_policy import (
    EvaluationPolicy,
    FullValidation,
    NoValidation,
)
from opto.trainer.algorithms.pool_policy import KeepBest, KeepLatest, PoolPolicy
from opto.trainer.algorithms.selection import BestCandidates, ParetoSampler, Selector

__all__ = [
    "AcceptAll",
    "AcceptanceCriterion",
    "BestCandidates",
    "EvaluationPolicy",
    "FullValidation",
    "ImprovementGate",
    "KeepBest",
    "KeepLatest",
    "NoValidation",
    "ParetoSampler",
    "PoolPolicy",
    "Selector",
    "Strategies",
]


class Strategies:
    """The parts of one search algorithm (see the module docstring).

    Args:
        selector: picks the parents (``Selector``).
        proposals: children per parent per step.
        gate, validate, rollout_children, keep, pool_size: the shorthand settings that make
            ``acceptance``, ``evaluation`` and ``pool_policy`` (see the module docstring);
            give either a shorthand or the part, not both.
        acceptance: an ``AcceptanceCriterion`` (default ``AcceptAll()``).
        evaluation: an ``EvaluationPolicy`` (default ``NoValidation()``).
        pool_policy: a ``PoolPolicy`` (default ``KeepBest()``: keep all, the best current).
    """

    def __init__(
        self,
        selector: Selector,
        proposals: int = 1,
        gate: float | None = None,
        validate: bool = False,
        rollout_children: bool = False,
        keep: str = "best",
        pool_size: int | None = None,
        *,
        acceptance: AcceptanceCriterion | None = None,
        evaluation: EvaluationPolicy | None = None,
        pool_policy: PoolPolicy | None = None,
    ) -> None:
        if proposals < 1:
            raise ValueError(f"proposals must be at least 1, got {proposals}")
        if keep not in ("latest", "best"):
            raise ValueError(f"keep must be 'latest' or 'best', got {keep!r}")
        if pool_size is not None and pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        _one_of("acceptance", acceptance, gate=gate is not None)
        _one_of("evaluation", evaluation, validate=validate, rollout_children=rollout_children)
        _one_of("pool_policy", pool_policy, keep=keep != "best", pool_size=pool_size is not None)
        self.selector = selector
        self.proposals = proposals
        self.acceptance = acceptance or (AcceptAll() if gate is None else ImprovementGate(gate))
        self.evaluation = evaluation or (
            FullValidation(minibatch=rollout_children)
            if validate
            else NoValidation(minibatch=rollout_children)
        )
        self.pool_policy = pool_policy or (
            KeepLatest() if keep == "latest" else KeepBest(pool_size)
        )

    @property
    def scores_children_on_minibatch(self) -> bool:
        """Whether children are run on their minibatch (for acceptance or for statistics)."""
        return self.acceptance.needs_minibatch_scores or self.evaluation.minibatch

    def __repr__(self) -> str:
        return (
            f"Strategies({self.selector!r}, proposals={self.proposals}, "
            f"acceptance={self.acceptance!r}, evaluation={self.evaluation!r}, "
            f"pool_policy={self.pool_policy!r})"
        )


def _one_of(part: str, given: object, **shorthands: bool) -> None:
    """Refuse a part given together with a shorthand setting that would make it."""
    used = [name for name, set_ in shorthands.items() if set_]
    if given is not None and used:
        shorthand = ", ".join(f"{name}=" for name in used)
        raise TypeError(f"give {part}= or {shorthand}, not both")
