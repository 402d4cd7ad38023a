"""``SearchTemplate``: Trace's template for search algorithms (``opto.trainer.search_template``).

An algorithm built on it defines ``update(samples)``, which looks at the rollouts of the last
iteration and returns the values to put into the agent plus the models to run next; the
template does the rest, iteration by iteration:

1. ``update(samples)`` -> ``(update_dict, proposals, info)``; the values go into the agent;
2. ``sample(proposals)`` runs the proposals on a new training batch (``Samples``);
3. every ``test_frequency`` iterations the agent is tested (a negative value skips the test
   before the first update); every ``save_frequency`` iterations the state is saved;
4. every ``log_frequency`` iterations the scores, the infos of update and sample and the
   parameters are logged.

It stops after ``num_epochs`` passes over the training data or ``num_steps`` iterations,
whichever comes last, or when ``max_cost``/``max_calls`` run out. ``save``/``load``/``resume``
(from ``ResumableSearch``) keep the state as JSON, never pickle; see
``opto.trainer.search_state``.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterator
from typing import Any

from opto import trace
from opto.llm.errors import BudgetError
from opto.optimizers.optimizer import Optimizer
from opto.trainer.algorithms.base import Trainer, TrainResult, check_optimizer_parameters
from opto.trainer.algorithms.options import (
    COMMON_OPTIONS,
    TRACE_OPTION_NAMES,
    drop_trace_only_options,
)
from opto.trainer.checkpoint import run_budget
from opto.trainer.evaluators import evaluate
from opto.trainer.guide import as_guide
from opto.trainer.loader import DataLoader, check_dataset
from opto.trainer.sampler import BatchRollout, Sampler
from opto.trainer.search_state import ResumableSearch
from opto.trainer.snapshots import take_snapshot
from opto.trainer.utils import safe_mean
from opto.utils.user_warnings import warn_user

__all__ = [
    "Samples",
    "SearchTemplate",
    "check_optimizer_parameters",
    "evaluate",
    "safe_mean",
    "save_train_config",
    "trace",
]


OPTO_LOOP_ONLY = frozenset(COMMON_OPTIONS) - TRACE_OPTION_NAMES - {"seed", "max_cost", "max_calls"}
"""Options of opto's own loop that this template does not have (refused, not passed on)."""


class Samples:
    """The BatchRollouts of one sampling round and the batch they ran on.

    Args:
        samples: the BatchRollouts.
        dataset: the batch, ``{"inputs": [...], "infos": [...]}``.
    """

    def __init__(self, samples: list[BatchRollout], dataset: dict[str, list]) -> None:
        if not isinstance(samples, list) or not all(isinstance(s, BatchRollout) for s in samples):
            raise TypeError("samples must be a list of BatchRollout objects")
        if not isinstance(dataset, dict) or not {"inputs", "infos"} <= set(dataset):
            raise TypeError("dataset must be a dict with 'inputs' and 'infos'")
        self.samples = samples
        self.dataset = dataset

    def add_samples(self, samples: Samples) -> None:
        """Append the BatchRollouts of ``samples``, another ``Samples``."""
        if not isinstance(samples, Samples):
            raise TypeError(f"expected Samples, got {type(samples).__name__}")
        self.samples.extend(samples.samples)

    def __iter__(self) -> Iterator[BatchRollout]:
        return iter(self.samples)

    def __len__(self) -> int:
        """The number of rollouts (runs), over all BatchRollouts."""
        return sum(len(s) for s in self.samples)

    @property
    def n_batchrollouts(self) -> int:
        """How many BatchRollouts (one per model and sub-batch) it holds."""
        return len(self.samples)

    def __repr__(self) -> str:
        return f"Samples({self.n_batchrollouts} BatchRollouts, {len(self)} rollouts)"


def save_train_config(function: Callable) -> Callable:
    """Decorator of ``train``: remember the options ``function`` is called with (without the
    datasets) for ``resume``.

    ``guide`` and ``train_dataset`` may be given by position or by name.
    """

    @functools.wraps(function)
    def train(self: Any, *args: Any, **kwargs: Any) -> Any:
        if len(args) > 2:
            raise TypeError(f"{function.__qualname__}() takes guide and train_dataset by position")
        for name, value in zip(("guide", "train_dataset"), args, strict=False):
            if name in kwargs:
                raise TypeError(f"{function.__qualname__}() got {name} twice")
            kwargs[name] = value
        outermost = not getattr(self, "_recording_train_options", False)
        if outermost:  # a subclass's train calling its parent's: keep the subclass's options
            self._train_last_kwargs = {
                k: v
                for k, v in kwargs.items()
                if k not in ("train_dataset", "validate_dataset", "test_dataset")
            }
        self._recording_train_options = True
        try:
            return function(self, **kwargs)
        finally:
            if outermost:
                self._recording_train_options = False

    return train


class SearchTemplate(ResumableSearch, Trainer):
    """Base of search algorithms: subclasses define ``update`` (see the module docstring).

    Args:
        agent: the model to train.
        optimizer: an optimizer of exactly the agent's parameters, or a list of them (reading
            ``self.optimizer`` gives them in turn, one per read).
        num_threads: how many runs at once by default.
        logger: where values are logged.
    """

    def __init__(
        self,
        agent: trace.Module,
        optimizer: Optimizer | list[Optimizer],
        num_threads: int | None = None,
        logger: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(agent, num_threads, logger, *args, **kwargs)
        optimizers = list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]
        if not optimizers:
            raise ValueError("at least one optimizer is needed")
        for item in optimizers:
            check_optimizer_parameters(item, agent)
        self._optimizers = optimizers
        self._optimizer_index = -1
        self.n_iters = 0
        self.n_epochs = 0
        self.n_samples = 0
        self.train_sampler: Sampler | None = None
        self.validate_sampler: Sampler | None = None
        self.use_prev_batch = True
        self._score_range = (-math.inf, math.inf)
        self._train_last_kwargs: dict[str, Any] = {}

    @property
    def optimizer(self) -> Optimizer:
        """The next optimizer, in turn (with one optimizer, always that one)."""
        self._optimizer_index += 1
        return self._optimizers[self._optimizer_index % len(self._optimizers)]

    @property
    def max_score(self) -> float:
        """The upper end of ``score_range`` (infinite when no range was given)."""
        return self._score_range[1]

    @property
    def min_score(self) -> float:
        """The lower end of ``score_range``: what a failed run scores."""
        return self._score_range[0]

    # -- the loop ----------------------------------------------------------------------------

    @save_train_config
    def train(
        self,
        guide: Any,
        train_dataset: dict,
        *,
        validate_dataset: dict | None = None,
        validate_guide: Any = None,
        batch_size: int = 1,
        num_batches: int = 1,
        score_range: tuple[float, float] | None = None,
        num_epochs: int | None = 1,
        num_steps: int | None = None,
        num_threads: int | None = None,
        verbose: bool | str = False,
        test_dataset: dict | None = None,
        test_guide: Any = None,
        test_frequency: int | None = 1,
        num_test_samples: int = 1,
        log_frequency: int | None = None,
        save_frequency: int | None = None,
        save_path: str | os.PathLike = "search_checkpoints/",
        seed: int = 0,
        max_cost: float | None = None,
        max_calls: int | None = None,
        **kwargs: Any,
    ) -> TrainResult:
        """Run the search (see the module docstring); returns a ``TrainResult``.

        Args:
            guide: scores outputs (a ``Guide`` or a metric function).
            train_dataset: ``{"inputs": [...], "infos": [...]}``.
            validate_dataset: where ``update`` validates (default: the current training batch).
            validate_guide: the guide for validation (default ``guide``).
            batch_size: inputs per sub-batch.
            num_batches: sub-batches per iteration (a batch is ``batch_size * num_batches``).
            score_range: ``(min, max)`` of the scores; a failed run scores the min.
            num_epochs: passes over the training data.
            num_steps: iterations (the run lasts until both limits are reached).
            num_threads: runs at once.
            verbose: passed to ``update`` and ``sample`` (and from there to the optimizer).
            test_dataset: tested every ``test_frequency`` iterations; no test set, no test.
            test_guide: the guide for tests (default ``guide``).
            test_frequency: iterations between tests; negative skips the first; None: never.
            num_test_samples: runs per test input.
            log_frequency: iterations between logs (default ``test_frequency``; None: never).
            save_frequency: iterations between saves into ``save_path`` (None: never).
            save_path: the folder ``save`` writes.
            seed: the seed of the data order.
            max_cost, max_calls: a budget for the run's LLM calls; the run stops when spent.
            **kwargs: Trace's options that this algorithm does not use are dropped with a
                warning; other names are an error for opto's own algorithms and are passed on
                to ``update`` and ``sample`` (and from there to the optimizer) for subclasses
                defined outside opto, as Trace does.
        """
        if "subbatch_size" in kwargs:
            raise TypeError("give batch_size (and num_batches), not subbatch_size")
        unsupported = sorted(set(kwargs) & OPTO_LOOP_ONLY)
        if unsupported:
            raise TypeError(
                f"{type(self).__name__}.train() does not take {unsupported}: those are options "
                "of opto's SearchLoop algorithms (save_frequency/save_path save this one)"
            )
        # opto's own algorithms use no other option, so a name no one knows is a mistake; a
        # user's subclass gets such options in its hooks, as Trace passes them on.
        own_class = type(self).__module__.startswith("opto.")
        kwargs = drop_trace_only_options(type(self).__name__, kwargs, strict=own_class)
        guide = as_guide(guide)
        check_dataset(train_dataset, "train_dataset")
        self.num_threads = num_threads or self.num_threads
        self.num_test_samples = num_test_samples
        if log_frequency is None:
            log_frequency = test_frequency
        self._score_range = _checked_range(score_range)
        self._set_samplers(
            guide, train_dataset, validate_dataset, validate_guide, batch_size, num_batches, seed
        )
        test_guide = as_guide(test_guide) if test_guide is not None else guide
        if save_frequency is not None and save_frequency > 0:
            self.save(save_path)
        self._train_scores: list[tuple[float, int]] = []
        stopped = "completed"
        samples = None
        saving = save_frequency is not None and save_frequency > 0
        with run_budget(max_cost, max_calls, {}):
            try:
                while self.n_epochs < (num_epochs or 0) or self.n_iters < (num_steps or 0):
                    update_dict, proposals, info_update = self.update(
                        samples, verbose=verbose, **kwargs
                    )
                    self.optimizer.update(update_dict)
                    samples, info_sample = self.sample(proposals, verbose=verbose, **kwargs)
                    self._maybe_test(test_dataset, test_guide, test_frequency)
                    if saving and self.n_iters % save_frequency == 0:
                        self.save(save_path)
                    self._train_scores.append(
                        (info_sample["mean_score"], info_sample["num_samples"])
                    )
                    self.n_samples += len(samples)
                    if log_frequency and self.n_iters % abs(log_frequency) == 0:
                        self._log_iteration(info_update, info_sample)
                    self.n_epochs = info_sample["self.n_epochs"]
                    self.n_iters += 1
            except BudgetError as error:
                stopped = "budget"
                warn_user(f"the training budget ran out: {error}")
        return self._result(stopped)

    def _set_samplers(
        self,
        guide: Any,
        train_dataset: dict,
        validate_dataset: dict | None,
        validate_guide: Any,
        batch_size: int,
        num_batches: int,
        seed: int,
    ) -> None:
        """Samplers for training and validation (kept, with their data order, on resume)."""
        saved_orders = getattr(self, "_pending_loader_states", None) or {}
        self._pending_loader_states = None
        if self.train_sampler is None:
            loader = DataLoader(train_dataset, batch_size=batch_size * num_batches, seed=seed)
            if saved_orders.get("train"):
                loader.load_state_dict(saved_orders["train"])
            self.train_sampler = Sampler(
                loader,
                guide,
                self.num_threads,
                subbatch_size=batch_size,
                score_range=self._score_range,
            )
        else:
            self.train_sampler.dataset = train_dataset
            self.train_sampler.guide = guide
            self.train_sampler.num_threads = self.num_threads
            self.train_sampler.score_range = self._score_range
        self.use_prev_batch = validate_dataset is None
        if self.use_prev_batch:
            self.validate_sampler = self.train_sampler
            return
        check_dataset(validate_dataset, "validate_dataset")
        validate_guide = as_guide(validate_guide) if validate_guide is not None else guide
        if self.validate_sampler is None or self.validate_sampler is self.train_sampler:
            loader = DataLoader(
                validate_dataset, batch_size=batch_size * num_batches, seed=seed + 1
            )
            if saved_orders.get("validate"):
                loader.load_state_dict(saved_orders["validate"])
            self.validate_sampler = Sampler(
                loader, validate_guide, self.num_threads, score_range=self._score_range
            )
        else:
            self.validate_sampler.dataset = validate_dataset
            self.validate_sampler.guide = validate_guide
            self.validate_sampler.num_threads = self.num_threads
            self.validate_sampler.score_range = self._score_range

    def _maybe_test(self, test_dataset: dict | None, guide: Any, frequency: int | None) -> None:
        if test_dataset is None or not frequency or self.n_iters % abs(frequency) != 0:
            return
        if self.n_iters == 0 and frequency < 0:
            return  # a negative frequency skips the test before the first update
        self.log(self.test(test_dataset, guide), prefix="Test/")

    def _log_iteration(self, info_update: dict, info_sample: dict) -> None:
        total = sum(n for _, n in self._train_scores)
        average = sum(s * n for s, n in self._train_scores) / total if total else None
        if average is not None:
            self.logger.log("Algo/Average train score", average, self.n_iters, color="blue")
        self.log(info_update, prefix="Update/")
        self.log(info_sample, prefix="Sample/")
        self.logger.log(
            "Algo/Number of training samples", self.n_samples, self.n_iters, color="blue"
        )
        for parameter in self.agent.parameters():
            self.logger.log(
                f"Parameter/{parameter.name}", parameter.data, self.n_iters, color="red"
            )

    def _result(self, stopped: str) -> TrainResult:
        scores = [s for s, n in self._train_scores if n]
        return TrainResult(
            best_parameters=take_snapshot(self.agent),
            best_score=self._best_score(),
            best_scores=None,
            train_scores=scores,
            test_score=getattr(self, "_last_test_score", None),
            steps=self.n_iters,
            stopped=stopped,
        )

    def _best_score(self) -> float | None:
        """The score of the values the agent ends with, as far as the algorithm knows it."""
        return None

    # -- hooks -------------------------------------------------------------------------------

    def update(self, samples: Samples | None = None, verbose: Any = False, **kwargs: Any):
        """Return ``(update_dict, proposals, info)`` from the last samples (None at first).

        ``update_dict`` maps the agent's parameters to the values it should have;
        ``proposals`` are the models to run on the next batch; ``info`` is logged.
        ``verbose`` is the ``train`` option; other keyword arguments are the options
        ``train`` passes on.
        """
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    def sample(self, agents: list[trace.Module], verbose: Any = False, **kwargs: Any):
        """Run ``agents`` on a new training batch: ``(Samples, info)``. ``verbose`` and the
        other keyword arguments are the ``train`` options, for subclasses that use them."""
        rollouts, batch = self.train_sampler.sample(
            agents, description_prefix="Sampling training minibatch: "
        )
        samples = Samples(rollouts, batch)
        scores = [s for group in samples for s in group.get_scores() if s is not None]
        info = {
            "mean_score": safe_mean(scores, 0),
            "num_samples": len(scores),
            "self.n_epochs": self.train_sampler.n_epochs,
        }
        if not self.min_score <= info["mean_score"] <= self.max_score:
            warn_user(f"mean score {info['mean_score']} is out of the range {self._score_range}")
        return samples, info

    def evaluate(
        self,
        agent: trace.Module,
        guide: Any,
        xs: list,
        infos: list,
        min_score: Any = None,
        num_samples: int = 1,
        num_threads: int | None = None,
        description: str | None = None,
    ) -> float | None:
        """The mean score of ``agent`` on the inputs ``xs`` (failed runs score ``min_score``).

        ``guide`` scores each output against its entry of ``infos``; each input runs
        ``num_samples`` times, ``num_threads`` at once; ``description`` labels the progress
        bar. None when no run was scored.
        """
        scores = evaluate(
            agent,
            as_guide(guide),
            xs,
            infos,
            min_score=min_score,
            num_samples=num_samples,
            num_threads=num_threads or self.num_threads,
            description=description,
        )
        return safe_mean(scores.tolist())

    def test(self, test_dataset: dict, guide: Any) -> dict[str, float | None]:
        """``{"test_score": mean score of the agent on test_dataset}``, scored by ``guide``."""
        score = self.evaluate(
            self.agent,
            guide,
            test_dataset["inputs"],
            test_dataset["infos"],
            min_score=self.min_score,
            num_samples=self.num_test_samples,
            description="Evaluating agent",
        )
        if score is not None and not self.min_score <= score <= self.max_score:
            warn_user(f"test score {score} is out of the range {self._score_range}")
        self._last_test_score = score
        return {"test_score": score}

    def log(self, info_log: dict[str, Any], prefix: str = "") -> None:
        """Log every value of ``info_log`` that is not None as ``<prefix><key>`` at the
        current iteration; a failing logger only warns."""
        for key, value in info_log.items():
            if value is None:
                continue
            try:
                self.logger.log(f"{prefix}{key}", value, self.n_iters)
            except Exception as error:  # a logger must not stop the training
                warn_user(f"logging {prefix}{key} failed: {error}")


def _checked_range(score_range: Any) -> tuple[float, float]:
    if score_range is None:
        return (-math.inf, math.inf)
    low, high = score_range
    if high < low:
        raise ValueError(f"score_range must be (min, max) with min <= max, got {score_range}")
    return (low, high)
