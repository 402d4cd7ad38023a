"""``ParetoFront``: a pool policy that keeps the candidates that are best somewhere.

GEPA keeps a candidate while it has the top score on at least one validation example (an
instance, a setting, a seed) or, over objectives, on at least one metric; the rest are
dominated there and dropped. This is that rule as a pool policy; ``ParetoSampler`` is the
selector that draws parents from the front. The best candidate by the objective is always
kept and is current.
"""

from __future__ import annotations

from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.algorithms.pool_policy import PoolPolicy
from opto.trainer.algorithms.selection import ParetoSampler
from opto.trainer.objectives import ObjectiveConfig


class ParetoFront(PoolPolicy):
    """Keep the candidates that win some key (see the module docstring).

    Args:
        frontier: ``"instance"`` (validation examples), ``"objective"`` (metrics) or
            ``"hybrid"`` (both), as for ``ParetoSampler``.
    """

    def __init__(self, frontier: str = "instance") -> None:
        self.sampler = ParetoSampler(frontier)
        self.frontier = frontier

    def update(
        self, pool: Pool, children: list[Candidate], objective: ObjectiveConfig
    ) -> Candidate:
        for child in children:
            pool.add(child)
        best = pool.ranked(objective)[0]
        winners = set(self.sampler.wins(pool, objective)) | {best.id}
        pool.candidates = [c for c in pool.candidates if c.id in winners]
        return best

    def projected_size(self, size: int, added: int) -> int:
        return size + added

    def __repr__(self) -> str:
        return f"ParetoFront({self.frontier!r})"
