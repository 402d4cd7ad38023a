"""``train(...)``: one call to train a model on a dataset; ``resume(run_dir, ...)`` continues.

Components may be given as objects, classes or names: optimizers from ``opto.optimizers``,
guides from ``opto.trainer.guide`` (or a plain metric function), loggers from
``opto.trainer.loggers``, algorithms from ``opto.trainer.algorithms``. Everything is in the
package, so it works from any directory.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from opto import trace
from opto.optimizers.optimizer import Optimizer
from opto.trace.modules import Module
from opto.trace.nodes import ParameterNode
from opto.trainer.algorithms.base import IgnoredOptionWarning, Trainer, TrainResult
from opto.trainer.checkpoint import CheckpointError, RunDirectory
from opto.trainer.estimate import (
    Estimate,
    EstimateReady,
    estimate_training,
    script_estimate_requested,
)
from opto.trainer.guide import Guide, LLMJudge, as_guide
from opto.trainer.loader import check_dataset
from opto.trainer.loggers import BaseLogger
from opto.utils.logging_setup import log_level_scope
from opto.utils.user_warnings import warn_user

__all__ = [
    "SingleNodeModel",
    "dataset_check",
    "load_guide",
    "load_logger",
    "load_optimizer",
    "load_trainer_class",
    "resume",
    "trace",
    "train",
]


class SingleNodeModel(Module):
    """Wraps one trainable node, ``param``, as a model whose output is that node: what
    ``train(model=node)`` trains when given a single parameter instead of a model."""

    def __init__(self, param: ParameterNode) -> None:
        self.param = param

    def forward(self, x: Any) -> ParameterNode:
        """The parameter itself, whatever the input ``x``: the guide judges its value."""
        return self.param


def train(
    *,
    model: Module | ParameterNode,
    train_dataset: dict,
    algorithm: type[Trainer] | Trainer | str = "MinibatchAlgorithm",
    optimizer: Optimizer | type | str | None = None,
    guide: Guide | type | str | Any = "LLMJudge",
    logger: BaseLogger | type | str = "ConsoleLogger",
    optimizer_kwargs: dict | list[dict] | None = None,
    guide_kwargs: dict | None = None,
    logger_kwargs: dict | None = None,
    dry_run: bool = False,
    log_level: str | int | None = None,
    **trainer_kwargs: Any,
) -> TrainResult | Estimate:
    """Train ``model`` on ``train_dataset`` (``{"inputs": [...], "infos": [...]}``).

    ``trainer_kwargs`` go to the algorithm's ``train`` (batch_size, num_epochs, num_steps,
    validate_dataset, run_dir, resume, max_cost, ...); names neither opto nor Trace knows are
    an error. ``algorithm`` may also be an algorithm object already built for this model.
    ``dry_run=True`` trains nothing and calls no model: it returns an ``Estimate`` of the
    calls, tokens and cost the run would spend (see ``opto.trainer.estimate``).
    Without ``guide=`` an ``LLMJudge`` scores the answers, which needs a model; a metric
    function (``guide=lambda question, answer, info: float(answer == info)``) needs none.
    ``log_level`` ("DEBUG", "INFO", ...) shows opto's log lines while the run lasts (see
    ``opto.set_log_level``); None leaves logging as it is.

    ``optimizer`` is an optimizer object, class or name (default: OptoPrimeV2, or OPROv2 for
    a single node), made with ``optimizer_kwargs`` (a list of dicts makes several optimizers
    that take turns). ``guide`` is a ``Guide``, a class or name made with ``guide_kwargs``, or
    a metric function. ``logger`` is a logger object, class or name made with
    ``logger_kwargs``.
    """
    with log_level_scope(log_level):
        return _train(
            model,
            train_dataset,
            algorithm,
            optimizer,
            guide,
            logger,
            optimizer_kwargs,
            guide_kwargs,
            logger_kwargs,
            dry_run,
            trainer_kwargs,
        )


def _train(
    model: Module | ParameterNode,
    train_dataset: dict,
    algorithm: type[Trainer] | Trainer | str,
    optimizer: Optimizer | type | str | None,
    guide: Guide | type | str | Any,
    logger: BaseLogger | type | str,
    optimizer_kwargs: dict | list[dict] | None,
    guide_kwargs: dict | None,
    logger_kwargs: dict | None,
    dry_run: bool,
    trainer_kwargs: dict[str, Any],
) -> TrainResult | Estimate:
    dataset_check(train_dataset)
    if isinstance(model, ParameterNode):
        if not model.trainable:
            raise ValueError(f"{model.name} is not trainable: make it with trainable=True")
        model = SingleNodeModel(model)
    if not isinstance(model, Module):
        raise TypeError(
            f"model must be an opto Module or a ParameterNode, got {type(model).__name__}"
        )
    if not model.parameters():
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    guide = load_guide(guide, **(guide_kwargs or {}))
    if isinstance(guide, LLMJudge) and not (dry_run or script_estimate_requested()):
        guide.require_model()
    if isinstance(algorithm, Trainer):
        trainer = algorithm
    else:
        optimizers = _optimizers(optimizer, model, optimizer_kwargs)
        logger = load_logger(logger, **(logger_kwargs or {}))
        trainer = load_trainer_class(algorithm)(
            model, optimizers if len(optimizers) > 1 else optimizers[0], logger=logger
        )
    if dry_run or script_estimate_requested():
        estimate = estimate_training(trainer, guide, train_dataset, trainer_kwargs)
        if script_estimate_requested():
            raise EstimateReady(estimate)
        return estimate
    return trainer.train(guide=guide, train_dataset=train_dataset, **trainer_kwargs)


def resume(
    run_dir: str | os.PathLike,
    *,
    model: Module | ParameterNode,
    guide: Guide | type | str | Any,
    optimizer: Optimizer | type | str | None = None,
    logger: BaseLogger | type | str = "ConsoleLogger",
    optimizer_kwargs: dict | list[dict] | None = None,
    guide_kwargs: dict | None = None,
    logger_kwargs: dict | None = None,
    train_dataset: dict | None = None,
    **overrides: Any,
) -> TrainResult:
    """Continue the run in ``run_dir`` from its last checkpoint.

    The algorithm and options come from the run directory; ``overrides`` change options
    (e.g. a larger ``max_cost`` or ``num_steps``). Datasets are read back from the run
    directory when they were stored there, else they must be given again
    (``train_dataset``, or ``validate_dataset``/``test_dataset`` among the overrides).

    A checkpoint holds values, not code, so the run's code is given again: ``model`` (the
    same model, into which the saved values are loaded), ``guide``, and ``optimizer`` (with
    ``optimizer_kwargs``) when the run did not use the default; the optimizers made get the
    saved optimizer state. ``logger``, ``optimizer_kwargs``, ``guide_kwargs`` and
    ``logger_kwargs`` mean what they mean for :func:`train`.
    """
    run = RunDirectory(run_dir)
    config = run.read_config()
    stored = run.read_datasets()
    train_dataset = train_dataset if train_dataset is not None else stored.get("train")
    if train_dataset is None:
        raise CheckpointError(
            f"{run.path} does not hold the training data (it could not be stored as JSON); "
            "pass train_dataset="
        )
    options = {**config["options"], **overrides, "run_dir": run.path, "resume": True}
    for role in ("validate", "test"):
        options.setdefault(f"{role}_dataset", stored.get(role))
    return train(
        model=model,
        train_dataset=train_dataset,
        algorithm=config["algorithm"],
        optimizer=optimizer,
        guide=guide,
        logger=logger,
        optimizer_kwargs=optimizer_kwargs,
        guide_kwargs=guide_kwargs,
        logger_kwargs=logger_kwargs,
        **options,
    )


def default_optimizer_name(model: Module) -> str:
    """Trace 0.2's choice (OPROv2 for one node, else OptoPrimeV2) when available, else OptoPrime."""
    optimizers = importlib.import_module("opto.optimizers")
    wanted = "OPROv2" if isinstance(model, SingleNodeModel) else "OptoPrimeV2"
    return wanted if hasattr(optimizers, wanted) else "OptoPrime"


def dataset_check(dataset: Any) -> None:
    """Refuse (``DatasetError``, a ValueError) a ``dataset`` that is not
    ``{"inputs": [...], "infos": [...]}`` of equal lengths."""
    check_dataset(dataset, "dataset")


def load_optimizer(optimizer: Optimizer | type | str, model: Module, **kwargs: Any) -> Optimizer:
    """An optimizer of ``model``'s parameters: given, or made from a class or its name.

    Args:
        optimizer: an ``Optimizer`` (used as it is), a subclass, or a name in ``opto.optimizers``.
        model: the model whose ``parameters()`` a new optimizer gets.
        **kwargs: constructor arguments of a new optimizer (ignored, with a warning, for an
            optimizer that is already built).
    """
    return _build(optimizer, "opto.optimizers", Optimizer, "optimizer", kwargs, model)


def load_guide(guide: Guide | type | str | Any, **kwargs: Any) -> Guide:
    """A guide: given, made from a class or its name in ``opto.trainer.guide``, or a plain
    metric function wrapped in ``MetricGuide``; ``kwargs`` go to the constructor."""
    if callable(guide) and not isinstance(guide, (Guide, type, str)):
        return as_guide(guide, **kwargs)
    return _build(guide, "opto.trainer.guide", Guide, "guide", kwargs)


def load_logger(logger: BaseLogger | type | str, **kwargs: Any) -> BaseLogger:
    """A logger: given, or made from a class or its name in ``opto.trainer.loggers``."""
    return _build(logger, "opto.trainer.loggers", BaseLogger, "logger", kwargs)


def load_trainer_class(trainer: type[Trainer] | Trainer | str) -> type[Trainer]:
    """The algorithm class for a name in ``opto.trainer.algorithms``, a class, or an object."""
    if isinstance(trainer, Trainer):
        return type(trainer)
    return _resolve(trainer, "opto.trainer.algorithms", Trainer, "algorithm")


def _optimizers(optimizer: Any, model: Module, kwargs: dict | list[dict] | None) -> list[Optimizer]:
    if optimizer is None:
        optimizer = default_optimizer_name(model)
    if isinstance(kwargs, list) and not isinstance(optimizer, Optimizer):
        return [load_optimizer(optimizer, model, **k) for k in kwargs]
    return [load_optimizer(optimizer, model, **(kwargs or {}))]


def _build(spec: Any, module: str, base: type, what: str, kwargs: Any, model: Any = None) -> Any:
    if isinstance(spec, base):
        if kwargs:
            warn_user(
                f"{what} arguments {kwargs!r} are ignored: the {what} is already built",
                IgnoredOptionWarning,
            )
        return spec
    cls = _resolve(spec, module, base, what)
    return cls(model.parameters(), **kwargs) if model is not None else cls(**kwargs)


def _resolve(spec: Any, module: str, base: type, what: str) -> type:
    if isinstance(spec, str):
        namespace = importlib.import_module(module)
        found = getattr(namespace, spec, None)
        if not (isinstance(found, type) and issubclass(found, base)):
            names = sorted(
                n for n, v in vars(namespace).items() if isinstance(v, type) and issubclass(v, base)
            )
            raise ValueError(f"unknown {what} {spec!r}; {module} has {names}")
        return found
    if isinstance(spec, type) and issubclass(spec, base):
        return spec
    raise TypeError(f"{what} must be a {base.__name__}, a subclass or its name, got {spec!r}")
