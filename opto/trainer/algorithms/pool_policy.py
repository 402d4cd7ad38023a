"""Pool policies: which candidates the search keeps, and which one is current.

A pool policy is one part of ``Strategies``. After a step's children are accepted and
evaluated, ``update`` puts them into the pool, drops what the policy does not keep, and returns
the current candidate: the one whose values go into the model (and that ``train`` returns at
the end). The pool is saved whole in every checkpoint, so whatever a policy keeps is there
after a resume.
"""

from __future__ import annotations

from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.objectives import ObjectiveConfig


class PoolPolicy:
    """Base of pool policies: subclasses define ``update`` and ``projected_size``."""

    def update(
        self, pool: Pool, children: list[Candidate], objective: ObjectiveConfig
    ) -> Candidate:
        """Add ``children`` (accepted and evaluated, in the order they were proposed) to
        ``pool``, keep what the policy keeps, and return the current candidate.

        Args:
            pool: the pool to change in place (``pool.current`` is the id of the current
                candidate before the step; the loop sets it to the returned one).
            children: this step's new candidates.
            objective: how score dicts rank.
        """
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    def projected_size(self, size: int, added: int) -> int:
        """The pool's size after a step that adds ``added`` children to a pool of ``size``
        (what ``train(dry_run=True)`` assumes)."""
        raise NotImplementedError(f"{type(self).__name__} must define projected_size()")


class KeepBest(PoolPolicy):
    """Keep the ``size`` best candidates (all when ``size`` is None); the best is current.

    Args:
        size: how many candidates stay (None: no limit).
    """

    def __init__(self, size: int | None = None) -> None:
        if size is not None and size < 1:
            raise ValueError(f"pool_size must be at least 1, got {size}")
        self.size = size

    def update(
        self, pool: Pool, children: list[Candidate], objective: ObjectiveConfig
    ) -> Candidate:
        for child in children:
            pool.add(child)
        pool.keep_best(self.size, objective)
        return pool.ranked(objective)[0]

    def projected_size(self, size: int, added: int) -> int:
        return size + added if self.size is None else min(size + added, self.size)

    def __repr__(self) -> str:
        return f"KeepBest({self.size})"


class KeepLatest(PoolPolicy):
    """The newest accepted child replaces the current candidate (plain minibatch training);
    without one, the current candidate stays. The pool holds that one candidate."""

    def update(
        self, pool: Pool, children: list[Candidate], objective: ObjectiveConfig
    ) -> Candidate:
        current = children[-1] if children else pool.get(pool.current)
        pool.candidates = [current]
        return current

    def projected_size(self, size: int, added: int) -> int:
        return 1

    def __repr__(self) -> str:
        return "KeepLatest()"
