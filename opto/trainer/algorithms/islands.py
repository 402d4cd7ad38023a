"""Islands: several sub-populations that evolve apart and exchange their best now and then.

``Islands`` is a selector (``opto.trainer.algorithms.selection``). The islands take turns:
step ``s`` improves island ``(s - 1) % count``, and the candidates proposed at a step belong
to that step's island (the start candidates belong to all). Within its island a step picks its
parent with another selector (``within``, default the best candidate). Every
``migration_interval`` steps the islands exchange along a ring: from then on, island ``i`` may
also pick the ``migrants`` best candidates island ``i - 1`` had at that moment.

Membership is read from each candidate's step, which the pool saves, so islands survive a
resume with no state of their own. Use a pool policy that keeps enough candidates per island
(``KeepBest()`` keeps all); an island whose candidates were all dropped falls back to the start
candidates and its migrants.
"""

from __future__ import annotations

import random

from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.algorithms.selection import BestCandidates, Selector
from opto.trainer.objectives import ObjectiveConfig


class Islands(Selector):
    """Parents from one island per step (see the module docstring).

    Args:
        count: the number of islands.
        migration_interval: steps between migrations (None: the islands never exchange).
        migrants: how many of an island's best candidates migrate to the next island.
        within: the selector used inside an island.
    """

    def __init__(
        self,
        count: int = 4,
        migration_interval: int | None = 10,
        migrants: int = 1,
        within: Selector | None = None,
    ) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        if migration_interval is not None and migration_interval < 1:
            raise ValueError(f"migration_interval must be at least 1, got {migration_interval}")
        if migrants < 0:
            raise ValueError(f"migrants must be at least 0, got {migrants}")
        self.count = count
        self.migration_interval = migration_interval
        self.migrants = migrants
        self.within = within or BestCandidates(1)

    def island_of(self, candidate: Candidate) -> int | None:
        """The island a candidate belongs to (None: a start candidate, on every island)."""
        return None if candidate.step == 0 else (candidate.step - 1) % self.count

    def members(self, pool: Pool, island: int, objective: ObjectiveConfig, step: int) -> Pool:
        """The candidates island ``island`` may pick from at step ``step``, as a pool.

        Args:
            pool: the run's pool; the view shares its candidates, not a copy of them.
            island: the island's index, from 0.
            objective: how score dicts rank, which decides the migrants.
            step: the current step; the latest migration at or before it counts.
        """
        own = [c for c in pool.candidates if self.island_of(c) in (None, island)]
        chosen = list(own)
        if self.migration_interval and self.count > 1 and self.migrants:
            moment = (step - 1) // self.migration_interval * self.migration_interval
            if moment > 0:
                source = (island - 1) % self.count
                earlier = Pool()
                earlier.candidates = [
                    c for c in pool.candidates if self.island_of(c) == source and c.step <= moment
                ]
                known = {c.id for c in chosen}
                for migrant in earlier.ranked(objective)[: self.migrants]:
                    if migrant.id not in known:
                        chosen.append(migrant)
        view = Pool()
        view.candidates = sorted(chosen, key=lambda c: c.id)
        view.current = pool.current
        view.next_id = pool.next_id
        return view

    def select(self, pool: Pool, objective: ObjectiveConfig, rng: random.Random) -> list[Candidate]:
        """Without a step (outside the loop): the first island's choice.

        Args:
            pool, objective, rng: as for ``Selector.select``.
        """
        return self.select_at(pool, objective, rng, 1)

    def select_at(
        self, pool: Pool, objective: ObjectiveConfig, rng: random.Random, step: int
    ) -> list[Candidate]:
        """The parents for step ``step``: ``within``'s choice among the members of the
        step's island (``members``), or among the whole ``pool`` when the island has none.

        Args:
            pool, objective, rng: as for ``Selector.select``.
            step: the step about to run, counted from 1; it picks the island.
        """
        island = (step - 1) % self.count
        view = self.members(pool, island, objective, step)
        if not view.candidates:
            return self.within.select(pool, objective, rng)
        return self.within.select_at(view, objective, rng, step)

    def parents(self, pool_size: int) -> int:
        return self.within.parents(pool_size)

    def __repr__(self) -> str:
        return (
            f"Islands({self.count}, migration_interval={self.migration_interval}, "
            f"migrants={self.migrants}, within={self.within!r})"
        )
