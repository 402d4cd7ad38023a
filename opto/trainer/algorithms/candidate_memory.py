"""What a priority search remembers: candidates (``ModuleCandidate``) in priority queues
(``HeapMemory``, ``ParetoHeapMemory``), with the names and behaviour of Trace's
``opto.trainer.algorithms.priority_search``.

A candidate is a base model plus the values to put into it, the optimizer that proposed them
and the rollouts it collected. Two candidates are the same only if they are the same object:
candidates with equal values but different histories stay apart.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

from opto import trace
from opto.optimizers.optimizer import Optimizer
from opto.trace.nodes import ParameterNode
from opto.trainer.objectives import (
    ObjectiveConfig,
    aggregate_score_dicts,
    apply_minimize,
    pareto_rank,
    to_score_dict,
    weighted_scalarize,
)
from opto.trainer.utils import (
    create_module_from_update_dict,
    deepcopy_module,
    remap_update_dict,
    safe_mean,
    set_module_parameters,
)

CANDIDATE_ID_ATTRIBUTE = "__TRACE_RESERVED_module_candidate_id"
"""The attribute a candidate's model carries, so that its rollouts can be matched back."""

ROLLOUT_KEYS = ("module", "x", "info", "target", "score", "feedback")

_creation_order = itertools.count()


class ModuleCandidate:
    """A candidate: ``base_module`` with ``update_dict`` applied, and what is known of it.

    Args:
        base_module: the model the values are for.
        update_dict: ``{parameter: value}`` (keys may be parameters of a copy of the model);
            None takes the model's current values.
        optimizer: the optimizer that proposed the values (needed with ``update_dict``); it
            is the one that improves this candidate later.
    """

    def __init__(
        self,
        base_module: trace.Module,
        update_dict: dict[ParameterNode, Any] | None = None,
        optimizer: Optimizer | None = None,
    ) -> None:
        if not isinstance(base_module, trace.Module):
            raise TypeError(f"base_module must be an opto Module, got {type(base_module)}")
        if update_dict is None:
            update_dict = {p: p.data for p in base_module.parameters()}
        elif not isinstance(optimizer, Optimizer):
            raise TypeError("a candidate with an update_dict needs the Optimizer that proposed it")
        self.base_module = base_module
        self.optimizer = optimizer
        self.update_dict = remap_update_dict(base_module, update_dict)
        self.rollouts: list[dict[str, Any]] = []
        self.created_time = time.time()
        self.order = next(_creation_order)

    def get_module(self) -> trace.Module:
        """A new model with the candidate's values (the base model is not changed); it carries
        the candidate's id so that its rollouts can be matched back to the candidate."""
        if self.update_dict:
            module = create_module_from_update_dict(self.base_module, self.update_dict)
        else:
            module = deepcopy_module(self.base_module)
        setattr(module, CANDIDATE_ID_ATTRIBUTE, id(self))
        return module

    def apply_update(self, base_module: trace.Module | None = None) -> None:
        """Write the candidate's values into ``base_module`` (default: its own base)."""
        set_module_parameters(base_module or self.base_module, self.update_dict)

    def add_rollouts(self, rollouts: list[dict[str, Any]]) -> None:
        """Add ``rollouts``, dicts each with module, x, info, target, score and feedback (a
        malformed one raises before any is added)."""
        if not isinstance(rollouts, list) or not all(isinstance(r, dict) for r in rollouts):
            raise TypeError("rollouts must be a list of dicts")
        for rollout in rollouts:
            missing = [key for key in ROLLOUT_KEYS if key not in rollout]
            if missing:
                raise ValueError(f"a rollout lacks {missing}")
        self.rollouts.extend(rollouts)

    @property
    def num_rollouts(self) -> int:
        """How many rollouts the candidate has been scored on."""
        return len(self.rollouts)

    def mean_score(self) -> float | None:
        """The mean score of the rollouts (missing scores left out); None without any."""
        if not self.rollouts:
            return None
        return safe_mean([r["score"] for r in self.rollouts])

    def mean_score_dict(self) -> dict[str, float] | None:
        """The mean of each metric over the rollouts that have a ``score_dict``; else None."""
        dicts = [r["score_dict"] for r in self.rollouts if isinstance(r.get("score_dict"), dict)]
        return aggregate_score_dicts(dicts) if dicts else None

    def compute_score_confidence(
        self,
        min_score: float,
        max_score: float,
        scaling_constant: float = 1.0,
        total_trials: int = 1,
    ) -> tuple[float, float | None, float]:
        """``(lower bound, mean, upper bound)`` of the score, clipped to the score range.

        The bounds are ``mean -/+ c * sqrt(ln(total_trials + 1) / n) * (max - min)`` over the
        ``n`` scored rollouts; without any, ``(min_score, None, max_score)``. ``min_score``
        and ``max_score`` are the range scores can take, ``scaling_constant`` is ``c`` (more
        exploration when larger) and ``total_trials`` the rollouts made over all candidates.
        """
        if total_trials < 1:
            raise ValueError(f"total_trials must be at least 1, got {total_trials}")
        scores = [r["score"] for r in self.rollouts if r["score"] is not None]
        if not scores:
            return min_score, None, max_score
        mean = sum(scores) / len(scores)
        margin = (
            scaling_constant
            * math.sqrt(math.log(total_trials + 1) / len(scores))
            * (max_score - min_score)
        )

        def clip(value: float) -> float:
            return min(max(value, min_score), max_score)

        return clip(mean - margin), mean, clip(mean + margin)

    def __lt__(self, other: ModuleCandidate) -> bool:
        """The newer candidate is the smaller: among equal priorities the newest comes first."""
        if not isinstance(other, ModuleCandidate):
            return NotImplemented
        return self.order > other.order

    def __repr__(self) -> str:
        values = {p.py_name: v for p, v in self.update_dict.items()}
        return f"ModuleCandidate({values}, rollouts={self.num_rollouts})"


class HeapMemory:
    """A priority queue of ``(priority, data)``; iteration gives ``(-priority, data)`` items.

    Args:
        size: the most items kept (None: no limit); the lowest priorities go first.
        processing_fun: applied to each item's data when it is pushed.
    """

    def __init__(self, size: int | None = None, processing_fun: Callable | None = None) -> None:
        self.memory: list[tuple[float, Any]] = []
        self._size = size
        self.processing_fun = processing_fun

    @property
    def size(self) -> float:
        """The limit on the number of items (``inf`` when there is none)."""
        return math.inf if self._size is None else self._size

    @size.setter
    def size(self, size: int | None) -> None:
        """A new limit (None: none); the lowest priorities beyond it are dropped."""
        self._size = size
        self._trim()

    def push(self, score: float | None, data: Any) -> None:
        """Add ``data`` with priority ``score`` (None counts as -inf); keep the best ``size``."""
        if self.processing_fun is not None:
            data = self.processing_fun(data)
        priority = -math.inf if score is None else score
        heapq.heappush(self.memory, (-priority, data))
        self._trim()

    def _trim(self) -> None:
        if len(self.memory) > self.size:
            self.memory = heapq.nsmallest(int(self.size), self.memory)  # sorted: still a heap

    def pop(self) -> tuple[float, Any]:
        """Remove and return the ``(-priority, data)`` item of the highest priority."""
        if not self.memory:
            raise IndexError("pop from an empty heap memory")
        return heapq.heappop(self.memory)

    def append(self, memory: HeapMemory) -> None:
        """Push every item of another memory into this one."""
        if not isinstance(memory, HeapMemory):
            raise TypeError(f"expected a HeapMemory, got {type(memory).__name__}")
        for negative, data in list(memory):
            self.push(-negative, data)

    def reset(self) -> None:
        """Empty the memory."""
        self.memory = []

    def __len__(self) -> int:
        return len(self.memory)

    def __bool__(self) -> bool:
        return bool(self.memory)

    def __iter__(self) -> Iterator[tuple[float, Any]]:
        return iter(self.memory)

    def best(self, criterion: Callable[[Any], float | None] | None = None) -> tuple[float, Any]:
        """The ``(-priority, data)`` item of the highest priority, or of the highest
        ``criterion(data)`` (None counts as 0), without removing it."""
        if not self.memory:
            raise IndexError("best from an empty heap memory")
        if criterion is None:
            return min(self.memory)

        def value(item: tuple[float, Any]) -> float:
            result = criterion(item[1])
            return 0 if result is None else result

        return max(self.memory, key=value)


class ParetoHeapMemory(HeapMemory):
    """A ``HeapMemory`` whose ``pop`` takes a Pareto-optimal item in ``"pareto"`` mode.

    Args:
        size, processing_fun: as for ``HeapMemory``.
        pareto_k: how many of the highest priorities are compared.
        score_dict_fn: ``data -> {metric: value}`` (or None when unknown).
        objective_config: the objective; only ``mode="pareto"`` changes ``pop``.

    ``pop`` looks at the ``pareto_k`` items of highest priority, keeps those no other beats on
    every metric (after negating the metrics to minimize) and removes the one with the best
    weighted sum (or mean, without weights). If any of them has no score dict, it pops by
    priority.
    """

    def __init__(
        self,
        size: int | None = None,
        processing_fun: Callable | None = None,
        *,
        pareto_k: int = 20,
        score_dict_fn: Callable[[Any], dict | None] | None = None,
        objective_config: ObjectiveConfig | None = None,
    ) -> None:
        super().__init__(size, processing_fun)
        self.pareto_k = pareto_k
        self.score_dict_fn = score_dict_fn
        self.objective_config = objective_config

    def pop(self) -> tuple[float, Any]:
        config = self.objective_config
        if not self.memory or config is None or config.mode != "pareto" or not self.score_dict_fn:
            return super().pop()
        top = heapq.nsmallest(min(self.pareto_k, len(self.memory)), self.memory)
        dicts = [self.score_dict_fn(data) for _, data in top]
        if any(d is None for d in dicts):
            return super().pop()
        dicts = [apply_minimize(to_score_dict(d), config.minimize) for d in dicts]
        ranks = pareto_rank(dicts, config.pareto_metrics)

        def tie_break(index: int) -> float:
            if config.weights:
                return weighted_scalarize(dicts[index], config.weights, config.missing_value)
            return sum(dicts[index].values()) / len(dicts[index])

        chosen = max((i for i, rank in enumerate(ranks) if rank == 0), key=tie_break)
        item = top[chosen]
        self.memory.remove(item)
        heapq.heapify(self.memory)
        return item
