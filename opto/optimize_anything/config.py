"""The settings of ``optimize_anything``, under GEPA's names where GEPA has the same setting.

``GEPAConfig(engine=EngineConfig(...), reflection=ReflectionConfig(...))`` is what GEPA's
``optimize_anything`` takes; a program written for GEPA passes the same names here. Settings
GEPA does not have (the stop conditions beyond ``max_metric_calls``, the cost budget, the
failure score) are added to the same objects under names that say what they do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SELECTION_STRATEGIES = ("pareto", "current_best")


@dataclass
class EngineConfig:
    """How long the search runs, where it is saved and how candidates are chosen.

    Args:
        max_metric_calls: stop once the evaluator has been called this many times (checked
            between steps, so the last step may pass it by its own calls).
        max_candidate_proposals: stop after this many proposals (steps of the loop).
        max_seconds: stop once the run has taken this long (wall clock, all sessions).
        max_cost: stop when the LLM calls have cost this much (USD; interrupts a step).
        max_llm_calls: stop after this many LLM calls (interrupts a step).
        score_threshold: stop once the best candidate scores at least this.
        patience: stop when the best candidate has not changed for this many steps.
        stop_file: stop when this file exists (create it to end a run at the next step).
        run_dir: save the run here (checkpoint after every step); a directory that holds
            a run is continued from its last step.
        seed: the seed of the run's random choices.
        reflection_minibatch_size: examples of ``dataset`` each proposal sees (GEPA's name).
        candidate_selection_strategy: ``"pareto"`` (a candidate best on some validation
            example, drawn by how many it wins) or ``"current_best"``.
        num_threads: examples evaluated at once (None: the trainer's default).
        failure_score: the score of an evaluation that raised.
        capture_stdio: add what the evaluator prints (stdout and stderr) to the side info.
        cache_evaluation: evaluate each (candidate, example) once per session and answer
            repeats from memory (for deterministic evaluators; a repeat still counts as a
            metric call, since the loop counts scored examples).
    """

    max_metric_calls: int | None = None
    max_candidate_proposals: int | None = None
    max_seconds: float | None = None
    max_cost: float | None = None
    max_llm_calls: int | None = None
    score_threshold: float | None = None
    patience: int | None = None
    stop_file: str | None = None
    run_dir: str | None = None
    seed: int = 0
    reflection_minibatch_size: int = 3
    candidate_selection_strategy: str = "pareto"
    num_threads: int | None = None
    failure_score: float = 0.0
    capture_stdio: bool = False
    cache_evaluation: bool = False

    def __post_init__(self) -> None:
        if self.candidate_selection_strategy not in SELECTION_STRATEGIES:
            raise ValueError(
                f"candidate_selection_strategy must be one of {SELECTION_STRATEGIES}, got "
                f"{self.candidate_selection_strategy!r}"
            )
        for name in ("max_metric_calls", "max_candidate_proposals", "max_llm_calls"):
            _check_count(name, getattr(self, name), low=0)
        _check_count("patience", self.patience, low=1)
        _check_count("reflection_minibatch_size", self.reflection_minibatch_size, low=1)
        if self.max_seconds is not None and not _positive(self.max_seconds):
            raise ValueError(f"max_seconds must be a number > 0, got {self.max_seconds!r}")
        if self.max_cost is not None and not _positive(self.max_cost):
            raise ValueError(f"max_cost must be a number > 0, got {self.max_cost!r}")
        if not isinstance(self.failure_score, int | float) or math.isnan(self.failure_score):
            raise ValueError(f"failure_score must be a number, got {self.failure_score!r}")

    def has_limit(self) -> bool:
        """Whether anything ends the run by itself (a stop file or threshold may never)."""
        limits = (
            self.max_metric_calls,
            self.max_candidate_proposals,
            self.max_seconds,
            self.max_cost,
            self.max_llm_calls,
            self.patience,
        )
        return any(limit is not None for limit in limits)


@dataclass
class ReflectionConfig:
    """What proposes new candidates.

    Args:
        reflection_lm: the LLM the optimizer asks: an opto LLM client (``opto.llm.LLM``,
            ``ScriptedLLM``...) or a model name for ``opto.llm.LLM``; None uses the
            configured default model.
        optimizer: the opto optimizer: a class or a name from ``opto.optimizers``
            (default ``"OptoPrime"``), or a function ``(parameters, llm) -> Optimizer``.
        optimizer_kwargs: further arguments of the optimizer class.
    """

    reflection_lm: Any = None
    optimizer: Any = "OptoPrime"
    optimizer_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class GEPAConfig:
    """All settings of a run (GEPA's name for the object).

    Args:
        engine: the loop's limits, run directory and selection (``EngineConfig``).
        reflection: the optimizer and its LLM (``ReflectionConfig``).
    """

    engine: EngineConfig = field(default_factory=EngineConfig)
    reflection: ReflectionConfig = field(default_factory=ReflectionConfig)


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _check_count(name: str, value: Any, low: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
