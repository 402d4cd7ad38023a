"""Scores with several objectives: turning them into a ranking of candidates.

A score is a number or a dict ``{metric: number}``. ``ObjectiveConfig`` says how candidates
compare: ``scalar`` (a number, or the mean of a dict), ``weighted`` (a weighted sum), or
``pareto`` (non-dominated sorting, ties broken by weights, names or a seeded shuffle). Metrics
named in ``minimize`` are negated first, so that higher is always better afterwards.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

ScoreLike = Union[int, float, bool, dict]

MODES = ("scalar", "weighted", "pareto")
SCALARIZE_DICT = ("mean", "sum", "score", "weighted")
"""How the scalar mode turns a dict into one number: the mean or sum of its metrics, the metric
named ``score_key`` (Trace's default), or the weighted sum."""
TIE_BREAKS = ("weighted", "lexicographic", "random_seeded")


@dataclass(frozen=True)
class ObjectiveConfig:
    """How candidates with (possibly multi-metric) scores are compared.

    ``mode`` is ``scalar`` (one number per score: the number, or the dict made one by
    ``scalarize_dict``), ``weighted`` (the sum of metrics times ``weights``) or ``pareto``
    (non-dominated sorting over ``pareto_metrics``, None meaning every metric). ``weights``
    map metric names to non-negative weights (empty: all 1). ``minimize`` names metrics where
    lower is better; they are negated before anything else. ``missing_value`` is what a
    weighted metric absent from a score counts as. ``tie_break`` orders candidates on one
    Pareto front: ``weighted`` sum, ``lexicographic`` by metric name, or ``random_seeded``
    with ``seed``. ``scalarize_dict`` is how the scalar mode reduces a dict (``mean``,
    ``sum``, ``score``: the metric named ``score_key``, or ``weighted``); ``score_key`` is
    also the name a plain number gets as a dict.
    """

    mode: str = "scalar"
    weights: dict[str, float] = field(default_factory=dict)
    minimize: frozenset = field(default_factory=frozenset)
    missing_value: float = float("-inf")
    pareto_metrics: tuple[str, ...] | None = None
    tie_break: str = "weighted"
    seed: int = 0
    scalarize_dict: str = "mean"
    score_key: str = "score"

    def __post_init__(self) -> None:
        object.__setattr__(self, "minimize", frozenset(self.minimize))
        object.__setattr__(self, "weights", dict(self.weights))
        if self.pareto_metrics is not None:
            object.__setattr__(self, "pareto_metrics", tuple(self.pareto_metrics))
            if not self.pareto_metrics:
                raise ValueError("pareto_metrics must be None (all metrics) or non-empty")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {self.tie_break!r}")
        if self.scalarize_dict not in SCALARIZE_DICT:
            raise ValueError(
                f"scalarize_dict must be one of {SCALARIZE_DICT}, got {self.scalarize_dict!r}"
            )
        if not self.score_key:
            raise ValueError("score_key must be a non-empty metric name")
        negative = {name: w for name, w in self.weights.items() if w < 0}
        if negative:
            raise ValueError(
                f"weights must not be negative ({negative}); list the metric in minimize= instead"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (for run configs and checkpoints)."""
        return {
            "mode": self.mode,
            "weights": dict(self.weights),
            "minimize": sorted(self.minimize),
            "missing_value": self.missing_value,
            "pareto_metrics": list(self.pareto_metrics) if self.pareto_metrics else None,
            "tie_break": self.tie_break,
            "seed": self.seed,
            "scalarize_dict": self.scalarize_dict,
            "score_key": self.score_key,
        }


def to_score_dict(score: ScoreLike, score_key: str = "score") -> dict[str, float]:
    """The ``score`` as a dict: a number becomes ``{score_key: value}``; a dict is checked
    (non-empty, numbers, no NaN) and converted to floats."""
    if isinstance(score, (bool, int, float)):
        value = float(score)
        if math.isnan(value):
            raise ValueError("a score must not be NaN")
        return {score_key: value}
    if isinstance(score, dict):
        if not score:
            raise ValueError("a score dict must not be empty")
        result = {}
        for name, value in score.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"score {name!r} must be a number, got {type(value).__name__}")
            if math.isnan(value):
                raise ValueError(f"score {name!r} is NaN")
            result[str(name)] = float(value)
        return result
    raise TypeError(f"a score must be a number or a dict of numbers, got {type(score).__name__}")


normalize_score = to_score_dict


def apply_minimize(score_dict: dict[str, float], minimize: Iterable[str]) -> dict[str, float]:
    """``score_dict`` with the metrics named in ``minimize`` negated, so that higher is
    better for every metric."""
    lower = set(minimize)
    return {name: -value if name in lower else value for name, value in score_dict.items()}


def weighted_scalarize(
    score_dict: dict[str, float], weights: dict[str, float], missing_value: float = float("-inf")
) -> float:
    """Weighted sum over ``weights`` (all metrics with weight 1 when ``weights`` is empty).

    A weighted metric missing from ``score_dict`` counts as ``missing_value``; a weight of 0
    leaves its metric out.
    """
    if not weights:
        weights = dict.fromkeys(score_dict, 1.0)
    total = 0.0
    for name, weight in weights.items():
        if weight:
            total += weight * score_dict.get(name, missing_value)
    return total


def score_dict_to_scalar(score_dict: dict[str, float], config: ObjectiveConfig) -> float:
    """One number for a dict score, as ``config.scalarize_dict`` says (metrics to minimize are
    negated first).

    Args:
        score_dict: ``{metric: value}``.
        config: ``scalarize_dict`` is ``"mean"``, ``"sum"``, ``"score"`` (the metric named
            ``score_key``; a dict without it is a ValueError) or ``"weighted"``.
    """
    scores = apply_minimize(to_score_dict(score_dict, config.score_key), config.minimize)
    how = config.scalarize_dict
    if how == "score":
        if config.score_key not in scores:
            raise ValueError(
                f"the score dict has no {config.score_key!r} metric ({sorted(scores)}); include "
                "it, or set ObjectiveConfig.scalarize_dict to 'mean' or 'weighted'"
            )
        return scores[config.score_key]
    if how == "weighted":
        return weighted_scalarize(scores, config.weights, config.missing_value)
    total = sum(scores.values())
    return total if how == "sum" else total / len(scores)


def to_scalar_score(score: ScoreLike, config: ObjectiveConfig | None) -> float:
    """The ``score`` as one float: a number as it is; a dict through
    ``score_dict_to_scalar``, which needs ``config`` (None for a dict is an error)."""
    if isinstance(score, dict):
        if config is None:
            raise ValueError(
                "a dict score needs an ObjectiveConfig to become one number; pass "
                "objective_config=ObjectiveConfig(...)"
            )
        return score_dict_to_scalar(score, config)
    return float(score)


def scalarize(score: ScoreLike, config: ObjectiveConfig | None = None) -> float:
    """One number for ``score``, higher is better, as ``config`` says (None: the default
    scalar config; in pareto mode: the weighted sum the tie-break uses)."""
    config = config or ObjectiveConfig()
    if config.mode == "scalar":
        if isinstance(score, dict):
            return score_dict_to_scalar(score, config)
        value = to_score_dict(score, config.score_key)[config.score_key]
        return -value if config.score_key in config.minimize else value
    scores = apply_minimize(to_score_dict(score, config.score_key), config.minimize)
    return weighted_scalarize(scores, config.weights, config.missing_value)


def dominates(
    a: dict[str, float], b: dict[str, float], metrics: Sequence[str] | None = None
) -> bool:
    """``a`` is at least as good as ``b`` on every metric and better on one (higher is
    better); ``metrics`` limits the comparison to those names (None: every metric of
    either, a missing one counting as minus infinity)."""
    names = metrics if metrics is not None else sorted(set(a) | set(b))
    better = False
    for name in names:
        left, right = a.get(name, float("-inf")), b.get(name, float("-inf"))
        if left < right:
            return False
        if left > right:
            better = True
    return better


def pareto_rank(
    candidates: Sequence[dict[str, float]], metrics: Sequence[str] | None = None
) -> list[int]:
    """The Pareto rank of each of ``candidates`` (score dicts, higher is better) over
    ``metrics`` (None: all): 0 for the front, 1 for the front once that is removed, ..."""
    ranks = [0] * len(candidates)
    remaining = list(range(len(candidates)))
    rank = 0
    while remaining:
        front = [
            i
            for i in remaining
            if not any(
                dominates(candidates[j], candidates[i], metrics) for j in remaining if j != i
            )
        ]
        for i in front:
            ranks[i] = rank
        remaining = [i for i in remaining if i not in front]
        rank += 1
    return ranks


def select_top_k(
    candidates: Sequence[tuple[ScoreLike, Any]], config: ObjectiveConfig | None = None, k: int = 1
) -> list[int]:
    """Indices of the ``k`` best of ``candidates``, ``(score, payload)`` pairs, best first
    (stable on ties), compared as ``config`` says (None: the default scalar config)."""
    config = config or ObjectiveConfig()
    if config.mode != "pareto":
        values = [scalarize(score, config) for score, _ in candidates]
        return sorted(range(len(values)), key=lambda i: -values[i])[:k]
    dicts = [
        apply_minimize(to_score_dict(score, config.score_key), config.minimize)
        for score, _ in candidates
    ]
    ranks = pareto_rank(dicts, config.pareto_metrics)
    chosen: list[int] = []
    for rank in sorted(set(ranks)):
        members = [i for i, r in enumerate(ranks) if r == rank]
        chosen.extend(_break_ties(members, dicts, config, rank))
        if len(chosen) >= k:
            break
    return chosen[:k]


def select_best(
    candidates: Sequence[tuple[ScoreLike, Any]], config: ObjectiveConfig | None = None
) -> int:
    """Index of the best of ``candidates``, ``(score, payload)`` pairs, compared as
    ``config`` says (None: the default scalar config); an empty list is an error."""
    if not candidates:
        raise ValueError("select_best needs at least one candidate")
    return select_top_k(candidates, config, k=1)[0]


def _break_ties(
    members: list[int], dicts: list[dict[str, float]], config: ObjectiveConfig, rank: int
) -> list[int]:
    if config.tie_break == "weighted":
        return sorted(
            members,
            key=lambda i: -weighted_scalarize(dicts[i], config.weights, config.missing_value),
        )
    if config.tie_break == "lexicographic":
        names = sorted(set().union(*(dicts[i] for i in members)))
        return sorted(
            members, key=lambda i: [-dicts[i].get(n, config.missing_value) for n in names]
        )
    shuffled = list(members)
    random.Random(config.seed + rank).shuffle(shuffled)
    return shuffled


def aggregate_score_dicts(score_dicts: Iterable[dict[str, float]]) -> dict[str, float]:
    """The mean of each metric over those of ``score_dicts`` that have it (None values are
    left out)."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for scores in score_dicts:
        for name, value in scores.items():
            if value is not None:
                sums[name] = sums.get(name, 0.0) + value
                counts[name] = counts.get(name, 0) + 1
    return {name: sums[name] / counts[name] for name in sorted(sums)}
