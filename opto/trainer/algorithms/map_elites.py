"""MAP-Elites: keep the best candidate of each cell of a grid over features you choose.

A ``Feature`` reads one number from a candidate: a metric of its score dict (a further metric
the guide reports, e.g. the code's length or run time) or a function of the candidate. Its
``bins`` are the edges that cut the axis into cells. ``MapElites`` is a pool policy
(``opto.trainer.algorithms.pool_policy``): after each step the pool holds one elite per
occupied cell, the best there by the run's objective, and the best elite is current.
``EliteSampler`` is the selector that goes with it: each step improves an elite drawn
uniformly (with the run's seeded generator), so every niche keeps being explored rather
than only the best one.

The grid is the pool, which every checkpoint saves: a resumed run has the same elites.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.algorithms.pool_policy import PoolPolicy
from opto.trainer.algorithms.selection import Selector
from opto.trainer.objectives import ObjectiveConfig


class Feature:
    """One axis of the grid.

    Args:
        name: the metric of the candidate's score dict to read, or a label when ``value``
            is given.
        bins: increasing edges; a value below the first is in cell 0, between edge ``k-1``
            and ``k`` in cell ``k``, from the last on in cell ``len(bins)``.
        value: ``candidate -> number`` (a ``Candidate``: ``.snapshot`` holds its values);
            None reads the metric ``name``.
    """

    def __init__(
        self,
        name: str,
        bins: Sequence[float],
        value: Callable[[Candidate], float] | None = None,
    ) -> None:
        edges = [float(edge) for edge in bins]
        if not edges or any(b <= a for a, b in itertools.pairwise(edges)):
            raise ValueError(f"bins of {name!r} must be increasing edges, got {list(bins)}")
        self.name = name
        self.bins = edges
        self.value = value

    def cell(self, candidate: Candidate) -> int | None:
        """The candidate's cell on this axis (None when it has no such value)."""
        if self.value is not None:
            number = self.value(candidate)
        else:
            number = (candidate.score_dict() or {}).get(self.name)
        if not isinstance(number, int | float) or math.isnan(number):
            return None
        return bisect.bisect_right(self.bins, float(number))

    def __repr__(self) -> str:
        return f"Feature({self.name!r}, bins={self.bins})"


class MapElites(PoolPolicy):
    """Keep one elite per cell of the features' grid (see the module docstring).

    Args:
        features: the grid's axes.
    """

    def __init__(self, features: Sequence[Feature]) -> None:
        if not features:
            raise ValueError("MapElites needs at least one Feature")
        self.features = list(features)

    def cell(self, candidate: Candidate) -> tuple[Any, ...]:
        """The grid cell of ``candidate``: its cell on each feature, in order (None on an
        axis where it has no value, so such candidates share a cell)."""
        return tuple(feature.cell(candidate) for feature in self.features)

    def grid(self, pool: Pool, objective: ObjectiveConfig) -> dict[tuple, Candidate]:
        """``{cell: elite}`` of the candidates in ``pool``: in each cell the best by
        ``objective`` (the earlier ranked one of ties)."""
        elites: dict[tuple, Candidate] = {}
        for candidate in pool.ranked(objective):  # best first: the first in a cell wins
            elites.setdefault(self.cell(candidate), candidate)
        return elites

    def update(
        self, pool: Pool, children: list[Candidate], objective: ObjectiveConfig
    ) -> Candidate:
        for child in children:
            pool.add(child)
        kept = {c.id for c in self.grid(pool, objective).values()}
        pool.candidates = [c for c in pool.candidates if c.id in kept]
        return pool.ranked(objective)[0]

    def projected_size(self, size: int, added: int) -> int:
        return size + added

    def __repr__(self) -> str:
        return f"MapElites({self.features!r})"


class EliteSampler(Selector):
    """A parent drawn uniformly from the pool (under ``MapElites``: from the elites)."""

    def select(self, pool: Pool, objective: ObjectiveConfig, rng: random.Random) -> list[Candidate]:
        return [rng.choice(pool.candidates)]

    def __repr__(self) -> str:
        return "EliteSampler()"
