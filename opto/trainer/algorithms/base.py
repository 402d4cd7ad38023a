"""What every training algorithm shares: the model, the optimizers, the logger.

``Trainer`` is also the base that user-written algorithms subclass, as in Trace: they call
``super().__init__(agent, num_threads=..., logger=...)``, keep ``self.optimizer`` themselves and
use ``self.logger``, ``self._use_asyncio(...)`` and ``self.save_agent(...)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opto.optimizers.optimizer import Optimizer
from opto.trace.modules import Module
from opto.trainer.loggers import BaseLogger, ConsoleLogger
from opto.trainer.result_display import result_html, result_line, result_summary
from opto.utils.errors import OptoWarning
from opto.utils.user_warnings import warn_user


class IgnoredOptionWarning(OptoWarning):
    """An option a Trace program passed has no effect in this opto algorithm."""


class AbstractAlgorithm:
    """The most basic algorithm: it holds the agent; ``train`` is for subclasses to define.

    Args:
        agent: the model to train.
    """

    def __init__(self, agent: Any, *args: Any, **kwargs: Any) -> None:
        self.agent = agent

    def train(self, *args: Any, **kwargs: Any) -> Any:
        """Does nothing here; subclasses train ``self.agent``."""
        return None


class Trainer(AbstractAlgorithm):
    """Base of training algorithms: ``Trainer(agent, num_threads=None, logger=None)``.

    Args:
        agent: the model to train (an opto ``Module``).
        num_threads: how many examples run at once by default (None: the pool's default).
        logger: where values are logged (default: a ``ConsoleLogger``).

    Further arguments are accepted, as Trace's trainer does, and ignored with an
    ``IgnoredOptionWarning``.
    """

    OPTIONS: dict[str, Any] = {}

    def __init__(
        self,
        agent: Module,
        num_threads: int | None = None,
        logger: BaseLogger | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if not isinstance(agent, Module):
            raise TypeError(
                f"the agent must be an opto Module (a class decorated with @model), got "
                f"{type(agent).__name__}"
            )
        if args or kwargs:
            ignored = [*map(repr, args), *kwargs]
            warn_user(
                f"{type(self).__name__}() ignores argument(s) {', '.join(ignored)}",
                IgnoredOptionWarning,
            )
        super().__init__(agent)
        self.num_threads = num_threads
        self.logger = logger if logger is not None else ConsoleLogger()

    def _use_asyncio(self, threads: int | None = None) -> bool:
        """Whether to run calls in parallel: more than one thread is wanted."""
        wanted = threads or self.num_threads
        return wanted is not None and wanted > 1

    def train(self, guide: Any, train_dataset: dict, num_threads: int | None = None, **kwargs):
        """Train ``self.agent``; every algorithm defines its own loop.

        ``guide`` scores the agent's outputs and gives feedback; ``train_dataset`` is a dict
        ``{"inputs": [...], "infos": [...]}`` (an info is what the guide compares against);
        ``num_threads`` overrides how many examples run at once. Other keyword arguments are
        the algorithm's options.
        """
        raise NotImplementedError(f"{type(self).__name__} must define train()")

    def save_agent(
        self, save_path: str | os.PathLike, iteration: int | None = None, *, final: bool = False
    ) -> str:
        """Save the agent's parameters (opto's JSON format) and return the path used.

        Args:
            save_path: the file; its folder is created.
            iteration: if given, ``_iter<iteration>`` is put before the extension and the save
                is logged.
            final: add ``_final`` to the name (for the save at the end of training).
        """
        target = Path(save_path)
        if iteration is not None:
            suffix = f"_iter{iteration}" + ("_final" if final else "")
            target = target.with_name(f"{target.stem}{suffix}{target.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        self.agent.save(target)
        if iteration is not None:
            self.logger.log("Saved agent", str(target), iteration, color="blue")
        return str(target)

    def save(self, save_path: str | os.PathLike) -> None:
        """Save the algorithm's state to ``save_path`` (implemented by algorithms that can be
        resumed; opto's own ones checkpoint into ``run_dir=`` instead)."""
        raise NotImplementedError(
            f"{type(self).__name__} has no save(); opto's own algorithms checkpoint into "
            "run_dir= and continue with opto.trainer.resume"
        )

    @classmethod
    def load(cls, load_path: str | os.PathLike) -> Trainer:
        """Load an algorithm saved at ``load_path`` (implemented by algorithms that can be
        resumed)."""
        raise NotImplementedError(
            f"{cls.__name__} has no load(); opto's own algorithms continue a run with "
            "opto.trainer.resume(run_dir, ...)"
        )

    def resume(self, *, model: Module, train_dataset: dict, **kwargs: Any) -> Any:
        """Continue a saved run of ``model`` on ``train_dataset`` (implemented by algorithms
        that can be resumed; for opto's own, use ``opto.trainer.resume(run_dir, ...)``)."""
        raise NotImplementedError(
            f"{type(self).__name__} has no resume(); use opto.trainer.resume(run_dir, ...)"
        )


AlgorithmBase = Trainer


def check_optimizer_parameters(optimizer: Optimizer, agent: Module) -> None:
    """Refuse an optimizer that does not work on exactly the agent's parameters."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"expected an opto Optimizer, got {type(optimizer).__name__}")
    if {id(p) for p in optimizer.parameters} != {id(p) for p in agent.parameters()}:
        raise ValueError("Optimizer parameters do not match agent parameters.")


def as_optimizer_list(optimizer: Optimizer | list[Optimizer]) -> list[Optimizer]:
    """``optimizer`` (one, or a list or tuple of them) as a non-empty list, each checked to be
    an opto ``Optimizer`` so that a wrong argument fails before the run starts."""
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

    ``best_parameters`` maps parameter names to the values of the best candidate (already
    applied to the model); ``best_score`` is its scalar score and ``best_scores`` its score
    per metric (None before any validation). ``train_scores`` are the training scores per
    step and ``test_score`` the last test score (None without a test set). ``steps`` counts
    the steps taken; ``stopped`` says why the run ended (``completed`` or ``budget``);
    ``run_dir`` is the run directory (None without ``run_dir=``); ``history`` holds one
    record per step, as logged.
    ``usage`` holds the run's ``calls``, ``cache_hits``, ``prompt_tokens``,
    ``completion_tokens``, ``tokens`` and ``cost`` (earlier sessions of a resumed run included);
    ``evaluations`` the examples scored (guide calls), counted the same way. ``stopped`` says
    why the run ended: ``"completed"``, ``"budget"`` or a stop condition's reason.
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
    evaluations: int = 0

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
