"""What every training algorithm shares: the model, the optimizers, the logger, the options."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opto.optimizers.optimizer import Optimizer
from opto.trace.modules import Module
from opto.trainer.loggers import BaseLogger, ConsoleLogger
from opto.trainer.result_display import result_html, result_line, result_summary

COMMON_OPTIONS: dict[str, Any] = {
    "validate_dataset": None,
    "validate_guide": None,
    "test_dataset": None,
    "test_guide": None,
    "test_frequency": None,
    "num_test_samples": 1,
    "batch_size": 1,
    "num_epochs": 1,
    "num_steps": None,
    "num_threads": None,
    "executor": None,
    "progress": False,
    "min_score": None,
    "score_range": None,
    "seed": 0,
    "objective_config": None,
    "run_dir": None,
    "save_frequency": None,
    "save_path": None,
    "resume": False,
    "max_cost": None,
    "max_calls": None,
    "verbose": False,
    "log_frequency": 1,
}
"""Options of ``train()`` for every algorithm; each algorithm adds its own (``OPTIONS``)."""

NOT_SAVED = ("validate_dataset", "validate_guide", "test_dataset", "test_guide", "executor")


class Trainer:
    """Base of training algorithms: ``Trainer(agent, num_threads=None, logger=None)``."""

    OPTIONS: dict[str, Any] = {}

    def __init__(
        self, agent: Module, num_threads: int | None = None, logger: BaseLogger | None = None
    ) -> None:
        if not isinstance(agent, Module):
            raise TypeError(
                f"the agent must be an opto Module (a class decorated with @model), got "
                f"{type(agent).__name__}"
            )
        self.agent = agent
        self.num_threads = num_threads
        self.logger = logger if logger is not None else ConsoleLogger()

    def train(self, guide: Any, train_dataset: dict, **options: Any) -> Any:
        raise NotImplementedError

    def save_agent(self, path: str | os.PathLike, iteration: int | None = None) -> Path:
        """Save the agent's parameters as JSON; ``iteration`` is added to the file name."""
        target = Path(path)
        if iteration is not None:
            target = target.with_name(f"{target.stem}_iter{iteration}{target.suffix or '.json'}")
        return self.agent.save(target)


AlgorithmBase = Trainer


def resolve_options(trainer: Any, given: dict[str, Any]) -> dict[str, Any]:
    """All options of ``trainer.train`` with defaults filled in; unknown names are an error."""
    from opto.trainer.objectives import ObjectiveConfig

    known = {**COMMON_OPTIONS, **trainer.OPTIONS}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise TypeError(
            f"{type(trainer).__name__}.train() got unknown option(s) {unknown}; it takes "
            f"{sorted(known)}"
        )
    options = {**known, **given}
    if options["num_threads"] is None:
        options["num_threads"] = trainer.num_threads
    if options["run_dir"] is None and options["save_path"] is not None:
        options["run_dir"] = options["save_path"]
    if options["min_score"] is None:
        options["min_score"] = options["score_range"][0] if options["score_range"] else 0.0
    if options["run_dir"] is not None and options["save_frequency"] is None:
        options["save_frequency"] = 1
    objective = options["objective_config"]
    if isinstance(objective, dict):
        objective = ObjectiveConfig(**objective)
    options["objective_config"] = objective or ObjectiveConfig()
    return options


def options_to_save(options: dict[str, Any]) -> dict[str, Any]:
    """The options a run directory records (datasets, guides and executors are not JSON)."""
    saved = {k: v for k, v in options.items() if k not in NOT_SAVED and k != "save_path"}
    saved["objective_config"] = options["objective_config"].to_dict()
    saved["run_dir"] = str(saved["run_dir"]) if saved["run_dir"] else None
    return saved


def as_optimizer_list(optimizer: Optimizer | list[Optimizer]) -> list[Optimizer]:
    optimizers = list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]
    for item in optimizers:
        if not isinstance(item, Optimizer):
            raise TypeError(f"expected an opto Optimizer, got {type(item).__name__}")
    if not optimizers:
        raise ValueError("at least one optimizer is needed")
    return optimizers


@dataclass
class TrainResult:
    """The outcome of ``train``. Unpacks as Trace's ``(train_scores, test_score)``.

    ``usage`` holds the run's ``calls``, ``cache_hits``, ``prompt_tokens``,
    ``completion_tokens``, ``tokens`` and ``cost`` (earlier sessions of a resumed run included).
    """

    best_parameters: dict[str, Any]
    best_score: float | None
    best_scores: dict[str, float] | None
    train_scores: list[float]
    test_score: float | None
    steps: int
    stopped: str
    run_dir: Path | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)

    def __iter__(self):
        yield self.train_scores
        yield self.test_score

    def summary(self) -> str:
        """A few lines: best score, steps, calls, tokens, cost and where the run is saved."""
        return result_summary(self)

    def __repr__(self) -> str:
        return result_line(self)

    def _repr_html_(self) -> str:
        return result_html(self)
