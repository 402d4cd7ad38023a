"""Running several versions of a model on minibatches: Trace's ``opto.trainer.sampler``.

A *rollout* is one run of a model on one input, with the guide's score and feedback and the
output node (whose graph reaches the model's parameters). A ``BatchRollout`` holds the
rollouts of one model on one sub-batch: their graphs share that model's parameters, so one
backward pass over the batch gives the optimizer feedback for all of them. ``Sampler`` draws a
batch, splits it into sub-batches, runs every model on every sub-batch (each sub-batch after
the first on a copy of the model, so that their graphs stay apart) and returns the
``BatchRollout`` objects. Search algorithms built on ``SearchTemplate`` get their samples here.

Node names in the outputs are renumbered in a fixed order after each sample (as in opto's own
training loop), so the optimizer's prompts do not depend on how threads interleaved.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from opto import trace
from opto.trace.nodes import Node
from opto.trainer.evaluators import standard_forward
from opto.trainer.guide import Guide
from opto.trainer.loader import DataLoader, check_dataset
from opto.trainer.naming import canonical_names, fresh_names, model_nodes
from opto.trainer.objectives import to_score_dict
from opto.trainer.utils import batch_run, deepcopy_module

__all__ = [
    "BatchRollout",
    "Rollout",
    "RolloutConfig",
    "Sampler",
    "sample_rollouts",
    "standard_forward",
    "trace",
]


@dataclass
class Rollout:
    """One run: the model that ran (``module``), the input ``x`` and its ``info``, the output
    node ``target`` (an exception node when the run failed), the ``score`` and the
    ``feedback``. ``score_dict`` holds the metrics when the guide scored with a dict
    (``score`` is then their mean)."""

    module: trace.Module
    x: Any
    info: Any
    target: Any
    score: Any
    feedback: Any
    score_dict: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The rollout as a dict, with the output's value instead of the output node."""
        record = {
            "module": self.module,
            "x": self.x,
            "info": self.info,
            "target": self.target.data if isinstance(self.target, Node) else self.target,
            "score": self.score,
            "feedback": self.feedback,
        }
        if self.score_dict is not None:
            record["score_dict"] = self.score_dict
        return record


class BatchRollout:
    """The rollouts of one model on one sub-batch.

    Args:
        rollouts: at least one rollout, all of the same model (``module``).
    """

    def __init__(self, rollouts: list[Rollout]) -> None:
        if not rollouts:
            raise ValueError("a BatchRollout needs at least one rollout")
        module = rollouts[0].module
        if any(r.module is not module for r in rollouts):
            raise ValueError("All rollouts must have the same module.")
        self.module = module
        self.rollouts = list(rollouts)

    def __len__(self) -> int:
        return len(self.rollouts)

    def __iter__(self) -> Iterator[Rollout]:
        return iter(self.rollouts)

    def __repr__(self) -> str:
        return f"BatchRollout({len(self.rollouts)} rollouts of {type(self.module).__name__})"

    def get_scores(self) -> list:
        """The score of each rollout, in order."""
        return [r.score for r in self.rollouts]

    def to_list(self) -> list[dict[str, Any]]:
        """Each rollout as a dict (``Rollout.to_dict``)."""
        return [r.to_dict() for r in self.rollouts]

    def get_batch(self) -> dict[str, list]:
        """The inputs and infos the rollouts ran on: ``{"inputs": [...], "infos": [...]}``."""
        return {"inputs": [r.x for r in self.rollouts], "infos": [r.info for r in self.rollouts]}

    def extend(self, other: BatchRollout) -> None:
        """Append the rollouts of ``other``, another BatchRollout of the same model."""
        if not isinstance(other, BatchRollout):
            raise ValueError(f"can only extend with another BatchRollout, got {type(other)}")
        if other.module is not self.module:
            raise ValueError("Cannot extend with rollouts of a different module.")
        self.rollouts.extend(other.rollouts)


@dataclass(init=False)
class RolloutConfig:
    """What to run: a model on inputs (with their infos), scored by a guide.

    Args:
        module: the model.
        xs: the inputs (a list).
        infos: the infos, one per input (a list).
        guide: the guide that scores the outputs.
    """

    module: trace.Module
    xs: list
    infos: list
    guide: Guide

    def __init__(self, module: trace.Module, xs: list, infos: list, guide: Guide) -> None:
        if not isinstance(module, trace.Module):
            raise TypeError(f"module must be an opto Module, got {type(module).__name__}")
        if not isinstance(xs, list) or not isinstance(infos, list):
            raise TypeError("xs and infos must be lists")
        if not isinstance(guide, Guide):
            raise TypeError(f"guide must be a Guide, got {type(guide).__name__}")
        if len(xs) != len(infos):
            raise ValueError(f"{len(xs)} inputs but {len(infos)} infos: they must pair up")
        self.module, self.xs, self.infos, self.guide = module, xs, infos, guide


def sample_rollouts(
    configs: list[RolloutConfig],
    num_threads: int | None = 1,
    forward: Callable | None = None,
    min_score: Any = None,
    description: str = "Sampling rollouts.",
) -> list[BatchRollout]:
    """Run every config's model on its inputs in parallel; one BatchRollout per config.

    Args:
        configs: what to run.
        num_threads: the most runs at once.
        forward: ``forward(agent, x, guide, info, min_score) -> (target, score, feedback)``
            (default ``standard_forward``: a traced error scores ``min_score``).
        min_score: the score of a run that failed.
        description: label of the progress bar.

    Each run gets its own copy of the model (sharing the parameters) and of the guide; the
    rollouts record the config's model.
    """
    forward = forward or standard_forward
    jobs = [
        (config, x, info)
        for config in configs
        for x, info in zip(config.xs, config.infos, strict=True)
    ]
    kept = [n for config in configs for n in model_nodes(config.module)]
    start = fresh_names(kept)
    run = batch_run(max_workers=num_threads, description=description)(forward)
    outputs = run(
        [config.module for config, _, _ in jobs],
        [x for _, x, _ in jobs],
        [config.guide for config, _, _ in jobs],
        [info for _, _, info in jobs],
        min_score,
    )
    canonical_names([o[0] for o in outputs if isinstance(o[0], Node)], kept, start)
    results, position = [], 0
    for config in configs:
        rollouts = []
        for x, info in zip(config.xs, config.infos, strict=True):
            target, score, feedback = outputs[position]
            rollouts.append(_rollout(config.module, x, info, target, score, feedback))
            position += 1
        results.append(BatchRollout(rollouts))
    return results


def _rollout(module: Any, x: Any, info: Any, target: Any, score: Any, feedback: Any) -> Rollout:
    if isinstance(score, dict):  # several metrics: the score is their mean, all are kept
        metrics = to_score_dict(score)
        return Rollout(
            module, x, info, target, sum(metrics.values()) / len(metrics), feedback, metrics
        )
    return Rollout(module, x, info, target, score, feedback)


class Sampler:
    """Draws batches from a loader and runs models on them, in sub-batches.

    Args:
        loader: the ``DataLoader`` to draw batches from.
        guide: scores the outputs.
        num_threads: the most runs at once.
        subbatch_size: inputs per BatchRollout (default: the whole batch); at most the
            loader's batch size.
        forward: the forward function (``sample_rollouts``).
        score_range: ``(min, max)`` of the scores; a failed run scores the min.
    """

    def __init__(
        self,
        loader: DataLoader,
        guide: Guide,
        num_threads: int | None = 1,
        subbatch_size: int | None = None,
        forward: Callable | None = None,
        score_range: tuple[float, float] = (-math.inf, math.inf),
    ) -> None:
        self.loader = loader
        self.guide = guide
        self.num_threads = num_threads
        if subbatch_size is None:
            subbatch_size = loader.batch_size
        if not 1 <= subbatch_size <= loader.batch_size:
            raise ValueError(
                f"subbatch_size must be between 1 and the batch size {loader.batch_size}, "
                f"got {subbatch_size}"
            )
        self.subbatch_size = subbatch_size
        self.forward = forward or standard_forward
        self.score_range = score_range
        self.previous_batch: dict[str, list] | None = None

    @property
    def dataset(self) -> dict:
        """The training data the batches come from; assigning replaces it (checked)."""
        return self.loader.dataset

    @dataset.setter
    def dataset(self, value: dict) -> None:
        self.loader.dataset = check_dataset(value)

    @property
    def batch_size(self) -> int:
        """Examples per batch (all agents run on the same batch); assignable."""
        return self.loader.batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self.loader.batch_size = value

    @property
    def n_epochs(self) -> int:
        """Complete passes over the data so far."""
        return self.loader.n_epochs

    def sample(
        self, agents: list[trace.Module], use_prev_batch: bool = False, description_prefix: str = ""
    ) -> tuple[list[BatchRollout], dict[str, list]]:
        """Run each agent on a batch; ``(BatchRollouts, {"inputs": ..., "infos": ...})``.

        Args:
            agents: the models to run.
            use_prev_batch: run on the batch drawn last time instead of a new one.
            description_prefix: put before the progress bar's label.

        The batch is cut into consecutive sub-batches of ``subbatch_size``: the first runs on
        the agent itself, each further one on a copy of it. The result is agent by agent,
        sub-batch by sub-batch.
        """
        for agent in agents:
            if not isinstance(agent, trace.Module):
                raise TypeError(f"agents must be opto Modules, got {type(agent).__name__}")
        if use_prev_batch and self.previous_batch is not None:
            batch = self.previous_batch
        else:
            xs, infos = self.loader.sample()
            batch = {"inputs": xs, "infos": infos}
            self.previous_batch = batch
        xs, infos = batch["inputs"], batch["infos"]
        size = self.subbatch_size
        configs = []
        for agent in agents:
            for start in range(0, len(xs), size):
                module = agent if start == 0 else deepcopy_module(agent)
                chunk = slice(start, start + size)
                configs.append(
                    RolloutConfig(module, list(xs[chunk]), list(infos[chunk]), self.guide)
                )
        description = f"{description_prefix}Sampling {len(agents)} agents on {len(xs)} inputs"
        samples = sample_rollouts(
            configs,
            num_threads=self.num_threads,
            forward=self.forward,
            min_score=self.score_range[0],
            description=description,
        )
        return samples, batch
