"""Classical searches as settings of ``PrioritySearch`` (Trace's ``classical_algorithms``).

- ``SequentialUpdate``: one candidate, one proposal per iteration, a memory of one: the
  minibatch loop. With ``validate_proposals`` (the default) a proposal replaces the current
  values only if it scores at least as well on the validation batch; without, every proposal
  is taken (it enters the memory with ``default_score``).
- ``SequentialSearch``: one candidate, ``num_proposals`` proposals, the best is kept.
- ``BeamSearch``: the ``num_candidates`` best are kept and each is improved every iteration.
- ``ParetobasedPS``: GEPA-style exploration: the candidates explored are those best on at
  least one input (among the inputs they were scored on), not dominated on that count.

In Trace the first three fail on every call; here they work as their documentation intends.
"""

from __future__ import annotations

import math
from typing import Any

from opto.trainer.algorithms.base import IgnoredOptionWarning
from opto.trainer.algorithms.candidate_memory import ModuleCandidate
from opto.trainer.algorithms.priority_search import PrioritySearch
from opto.trainer.search_template import save_train_config
from opto.trainer.utils import safe_mean
from opto.utils.user_warnings import warn_user

__all__ = ["BeamSearch", "ParetobasedPS", "SequentialSearch", "SequentialUpdate"]


class _PresetSearch(PrioritySearch):
    """What the three presets share: their options and how they use them."""

    FIXED: dict[str, Any] = {}
    """Options the preset sets itself (a different value given is ignored, with a warning)."""

    @save_train_config
    def train(
        self,
        guide: Any,
        train_dataset: dict,
        *,
        num_candidates: int = 10,
        num_proposals: int = 1,
        default_score: float = math.inf,
        validate_proposals: bool = True,
        memory_size: int | None = None,
        **kwargs: Any,
    ):
        """``PrioritySearch.train`` with the preset's settings.

        Args:
            num_candidates: candidates improved per iteration (the beam's width).
            num_proposals: proposals per candidate and sub-batch.
            default_score: the priority of candidates without scores (the first one, and
                proposals when ``validate_proposals`` is off).
            validate_proposals: run proposals on the validation batch before they compete;
                otherwise a proposal is taken without being scored.
            memory_size: how many candidates are kept.
            **kwargs: the other options of ``PrioritySearch.train``.
        """
        given = {
            "num_candidates": num_candidates,
            "num_proposals": num_proposals,
            "memory_size": memory_size,
        }
        settings = self.settings(given)
        overridden = [
            f"{name}={value}"
            for name, value in self.FIXED.items()
            if given[name] not in (value, _DEFAULTS[name])
        ]
        if overridden:
            warn_user(
                f"{type(self).__name__} sets {', '.join(overridden)} itself; the values given "
                "are ignored",
                IgnoredOptionWarning,
            )
        self._default_score = default_score
        self._validate_proposals = validate_proposals
        return super().train(
            guide,
            train_dataset,
            num_candidates=settings["num_candidates"],
            num_proposals=settings["num_proposals"],
            long_term_memory_size=settings["memory_size"],
            **kwargs,
        )

    def settings(self, given: dict[str, Any]) -> dict[str, Any]:
        return {**given, **self.FIXED}

    def _seed_priority(self) -> float:
        return self._default_score

    def validate(
        self, candidates: list[ModuleCandidate], samples: Any, verbose: Any = False, **kwargs
    ):
        if self._validate_proposals:
            return super().validate(candidates, samples, verbose=verbose, **kwargs)
        results = {c: [] for c in self._exploration_candidates}
        results.update({c: [] for c in candidates})
        return results

    def compute_exploration_priority(self, candidate: ModuleCandidate) -> float | None:
        if candidate.num_rollouts == 0:
            return self._default_score
        return super().compute_exploration_priority(candidate)


_DEFAULTS = {"num_candidates": 10, "num_proposals": 1, "memory_size": None}


class SequentialUpdate(_PresetSearch):
    """One candidate improved by one proposal per iteration (see the module docstring)."""

    FIXED = {"num_candidates": 1, "num_proposals": 1, "memory_size": 1}


class SequentialSearch(_PresetSearch):
    """One candidate, ``num_proposals`` proposals per iteration, the best kept."""

    FIXED = {"num_candidates": 1, "memory_size": 1}


class BeamSearch(_PresetSearch):
    """A beam of ``num_candidates`` candidates, each improved every iteration."""

    def settings(self, given: dict[str, Any]) -> dict[str, Any]:
        """The ``given`` options with the memory as large as the beam."""
        return {**given, "memory_size": given["num_candidates"]}


class ParetobasedPS(PrioritySearch):
    """Priority search that explores the candidates best on some input (GEPA's idea).

    Among the candidates in memory, those with the best mean score on at least one input (of
    the inputs their rollouts were scored on) are candidates for exploration; one whose set of
    such inputs is strictly contained in another's is left out; the rest, by mean score, give
    up to ``num_candidates``. Without scores yet, exploration is PrioritySearch's.
    """

    def compress_candidate_memory(self, candidate: ModuleCandidate) -> ModuleCandidate:
        """Compress ``candidate`` as PrioritySearch does, but keep each rollout's input as
        well (the Pareto exploration compares inputs)."""
        compressed = super().compress_candidate_memory(candidate)
        for kept, rollout in zip(compressed.rollouts, candidate.rollouts, strict=True):
            kept["x"] = rollout.get("x")
        return compressed

    def compute_score_for_task_x(self, candidate: ModuleCandidate, x: Any) -> float:
        """The candidate's mean score on input ``x`` (0 when it never ran on it)."""
        scores = [r["score"] for r in candidate.rollouts if _same(r.get("x"), x)]
        mean = safe_mean(scores)
        return 0.0 if mean is None else mean

    def get_best_candidates_for_x(self, x: Any, candidates: list[ModuleCandidate]) -> list:
        """The candidates tied for the best mean score on ``x``."""
        scores = [self.compute_score_for_task_x(c, x) for c in candidates]
        top = max(scores, default=None)
        return [c for c, s in zip(candidates, scores, strict=True) if s == top]

    def explore(self, verbose: Any = False, **kwargs: Any):
        """Take the Pareto-best candidates (see the class docstring) out of the memory to
        explore; ``verbose`` prints progress. Returns candidates, priorities and an info
        dict, as PrioritySearch does."""
        memory = self.memory
        entries = list(memory)
        pool = [c for _, c in entries]
        inputs: list = []
        for candidate in pool:
            for rollout in candidate.rollouts:
                x = rollout.get("x")
                if x is not None and not any(_same(x, seen) for seen in inputs):
                    inputs.append(x)
        if not inputs:
            return super().explore(verbose=verbose, **kwargs)
        wins: dict[int, set[int]] = {}
        for position, x in enumerate(inputs):
            for candidate in self.get_best_candidates_for_x(x, pool):
                wins.setdefault(id(candidate), set()).add(position)
        front = [
            c
            for c in pool
            if id(c) in wins and not any(wins[id(c)] < wins[other] for other in wins)
        ]
        front.sort(key=lambda c: -(c.mean_score() if c.mean_score() is not None else -math.inf))
        chosen = front[: self.num_candidates]
        if verbose:
            print(
                f"Pareto frontier size: {len(front)} / {len(pool)} (taking up to "
                f"{self.num_candidates} for exploration)."
            )
        priorities = []
        for candidate in chosen:
            entry = next(e for e in entries if e[1] is candidate)
            memory.memory.remove(entry)
            priorities.append(-entry[0])
        memory.memory.sort()
        means = [m for m in (c.mean_score() for c in chosen) if m is not None]
        return (
            chosen,
            priorities,
            {
                "num_exploration_candidates": len(chosen),
                "num_pareto_candidates": len(front),
                "exploration_candidates_mean_priority": safe_mean(priorities),
                "exploration_candidates_mean_score": safe_mean(means),
                "exploration_candidates_average_num_rollouts": safe_mean(
                    [c.num_rollouts for c in chosen]
                ),
            },
        )


def _same(a: Any, b: Any) -> bool:
    """Inputs compare by value; inputs that cannot be compared are different."""
    try:
        return bool(a == b)
    except Exception:  # e.g. arrays whose == is elementwise
        return False
