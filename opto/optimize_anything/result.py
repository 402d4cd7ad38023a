"""``GEPAResult``: what ``optimize_anything`` returns, read from the trainer's pool.

The fields are GEPA's (``candidates``, ``parents``, ``val_aggregate_scores``,
``val_subscores``, ``per_val_instance_best_candidates``, ``total_metric_calls``,
``num_full_val_evals``, ``run_dir``, ``seed``; ``best_idx``, ``best_candidate``,
``num_candidates``, ``num_val_instances``), so code written against GEPA's result reads this
one. A candidate's index is its place in ``candidates`` (the pool's order); ``parents[i]`` lists
the index of the candidate it was proposed from (None for the seed, or for a parent the pool
no longer keeps). opto adds ``stopped`` (why the run ended), ``usage`` (LLM calls, tokens,
cost) and ``val_aggregate_subscores`` (the mean of each further metric).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opto.trainer.algorithms.candidates import Pool
from opto.trainer.objectives import ObjectiveConfig, aggregate_score_dicts, scalarize


@dataclass(frozen=True)
class GEPAResult:
    """The candidates a run found and how each scored (see the module docstring).

    Candidate indices below are positions in ``candidates``; validation example indices are
    positions in the validation set.

    Args:
        candidates: the candidates the pool kept at the end, each as the user sees it (a
            string when the seed was one, else a dict of components).
        parents: for each candidate, a one-element list with the index of the candidate it
            was proposed from (None for the seed or a parent that left the pool).
        val_aggregate_scores: each candidate's mean validation score over the examples it
            was scored on (``-inf`` when it was scored on none).
        val_subscores: each candidate's ``{example index: score}`` on the validation set.
        per_val_instance_best_candidates: ``{example index: candidate indices}`` of the
            candidates that tie for the top score on that example (its Pareto front).
        val_aggregate_subscores: each candidate's mean of every metric it reported (the
            score and the side info's ``"scores"``), by metric name; default none.
        total_metric_calls: the number of evaluator calls the run made (default 0).
        num_full_val_evals: how many candidates were scored on the whole validation set.
        run_dir: the run directory as a string, or None when the run kept none.
        seed: the random seed the run used (default 0).
        stopped: why the run ended (a stop condition's reason; "" when unknown).
        usage: the run's LLM usage (calls, tokens, cost), as the training loop reports it.
        best_idx: the index of the best candidate (the pool's current one; default 0).
    """

    candidates: list[Any]
    parents: list[list[int | None]]
    val_aggregate_scores: list[float]
    val_subscores: list[dict[int, float]]
    per_val_instance_best_candidates: dict[int, set[int]]
    val_aggregate_subscores: list[dict[str, float]] = field(default_factory=list)
    total_metric_calls: int = 0
    num_full_val_evals: int = 0
    run_dir: str | None = None
    seed: int = 0
    stopped: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    best_idx: int = 0

    @property
    def best_candidate(self) -> Any:
        """The best candidate: a string when the seed was one, else a dict of components."""
        return self.candidates[self.best_idx]

    @property
    def best_score(self) -> float:
        """The best candidate's mean validation score."""
        return self.val_aggregate_scores[self.best_idx]

    @property
    def num_candidates(self) -> int:
        """How many candidates the result holds."""
        return len(self.candidates)

    @property
    def num_val_instances(self) -> int:
        """How many validation examples some candidate was scored on."""
        return len(self.per_val_instance_best_candidates)

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready data (sets become sorted lists)."""
        return {
            "candidates": self.candidates,
            "parents": self.parents,
            "val_aggregate_scores": self.val_aggregate_scores,
            "val_subscores": [{str(k): v for k, v in s.items()} for s in self.val_subscores],
            "per_val_instance_best_candidates": {
                str(k): sorted(v) for k, v in self.per_val_instance_best_candidates.items()
            },
            "val_aggregate_subscores": self.val_aggregate_subscores,
            "total_metric_calls": self.total_metric_calls,
            "num_full_val_evals": self.num_full_val_evals,
            "run_dir": self.run_dir,
            "seed": self.seed,
            "stopped": self.stopped,
            "usage": self.usage,
            "best_idx": self.best_idx,
        }


def result_from_pool(
    pool: Pool,
    as_candidate: Any,
    objective: ObjectiveConfig,
    *,
    validation_size: int,
    evaluations: int,
    run_dir: Path | None,
    seed: int,
    stopped: str,
    usage: dict[str, Any],
) -> GEPAResult:
    """The ``GEPAResult`` of a finished run.

    Args:
        pool: the run's pool (its current candidate is the best).
        as_candidate: turns a snapshot into the candidate the user sees.
        objective: how score dicts rank.
        validation_size: the number of validation examples.
        evaluations: the run's evaluator calls.
        run_dir, seed, stopped, usage: as the run reports them.
    """
    kept = list(pool.candidates)
    index = {candidate.id: i for i, candidate in enumerate(kept)}
    subscores = [
        {i: scalarize(scores, objective) for i, scores in sorted(c.validation.items())}
        for c in kept
    ]
    aggregates = [
        sum(values.values()) / len(values) if values else float("-inf") for values in subscores
    ]
    best_per_instance: dict[int, set[int]] = {}
    for example in range(validation_size):
        scored = [(s[example], i) for i, s in enumerate(subscores) if example in s]
        if scored:
            top = max(value for value, _ in scored)
            best_per_instance[example] = {i for value, i in scored if value >= top - 1e-12}
    return GEPAResult(
        candidates=[as_candidate(c.snapshot) for c in kept],
        parents=[[index.get(c.parent) if c.parent is not None else None] for c in kept],
        val_aggregate_scores=aggregates,
        val_subscores=subscores,
        per_val_instance_best_candidates=best_per_instance,
        val_aggregate_subscores=[
            aggregate_score_dicts(c.validation.values()) if c.validation else {} for c in kept
        ],
        total_metric_calls=evaluations,
        num_full_val_evals=sum(1 for c in kept if len(c.validation) >= validation_size),
        run_dir=str(run_dir) if run_dir else None,
        seed=seed,
        stopped=stopped,
        usage=dict(usage),
        best_idx=index[pool.current],
    )
