"""What a discovered loss is scored on: a preset, a beta grid, seeds and a KL budget.

The fitness is beta-free, as the DiscoPOP research note recommends: for each seed, the highest
true reward over the beta grid among the runs whose KL to the reference stays within the budget,
then the mean (and sd) over seeds. Rescaling beta therefore cannot buy fitness, and a loss is
judged by the reward it reaches for a given drift from the reference. When no beta of a seed
fits the budget, that seed scores the reference policy's reward (staying put always fits). With
``kl_budget=None`` the score is simply the best reward over the grid; with one beta, it is the
paper's fitness (one fixed beta).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from opto.discovery.world import PRESETS, PreferenceConfig, resolve_config

METRICS = ("reward", "kl", "win_rate", "frontier_gap", "train_accuracy")


@dataclass(frozen=True)
class LossObjective:
    """How proposals are trained and scored (defaults: ``overfit``, 6 betas, 5 seeds, KL 0.3).

    ``preset`` names a world of :data:`~opto.discovery.world.PRESETS` or is a
    ``PreferenceConfig`` of one's own; each loss is trained at every beta of ``betas`` on
    every seed of ``seeds``; ``kl_budget`` is the drift from the reference (in nats) a run
    may have and still count (None: no limit). See the module docstring for the fitness.
    """

    preset: str | PreferenceConfig = "overfit"
    betas: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    kl_budget: float | None = 0.3

    def __post_init__(self) -> None:
        resolve_config(self.preset)
        betas = tuple(float(beta) for beta in self.betas)
        if not betas or not all(math.isfinite(b) and b > 0 for b in betas):
            raise ValueError(f"LossObjective.betas must be positive numbers, got {self.betas!r}")
        seeds = tuple(self.seeds)
        if (
            not seeds
            or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
        ):
            raise ValueError(
                f"LossObjective.seeds must be distinct non-negative ints, got {self.seeds!r}"
            )
        budget = self.kl_budget
        if budget is not None and not (math.isfinite(budget) and budget > 0):
            raise ValueError(f"LossObjective.kl_budget must be positive or None, got {budget!r}")
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "seeds", seeds)

    @property
    def config(self) -> PreferenceConfig:
        """The world's configuration the preset stands for."""
        return resolve_config(self.preset)[1]

    @property
    def preset_name(self) -> str:
        """The preset's name (``custom`` for a configuration given directly)."""
        return resolve_config(self.preset)[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; a custom config is stored field by field."""
        preset = self.preset if isinstance(self.preset, str) else self.preset.to_dict()
        return {
            "preset": preset,
            "betas": list(self.betas),
            "seeds": list(self.seeds),
            "kl_budget": self.kl_budget,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LossObjective:
        """The objective :meth:`to_dict` wrote as ``data`` (validated again)."""
        preset = data["preset"]
        if isinstance(preset, dict):
            preset = PreferenceConfig(**preset)
        return cls(
            preset=preset,
            betas=tuple(data["betas"]),
            seeds=tuple(data["seeds"]),
            kl_budget=data["kl_budget"],
        )

    def describe(self) -> str:
        """The scoring rule in words, for the proposer's system prompt."""
        config = self.config
        policy = (
            "a log-linear policy plus a free table of logits that can memorise pairs"
            if config.tabular
            else "a log-linear policy over response features"
        )
        label = f"the {self.preset_name!r} preset" if self.preset_name in PRESETS else "a task"
        noise = (
            f", {config.label_flip_rate:.0%} of labels flipped" if config.label_flip_rate else ""
        )
        betas = ", ".join(f"{beta:g}" for beta in self.betas)
        if self.kl_budget is None:
            rule = "the highest true reward reached over those betas"
        else:
            rule = (
                "the highest true reward among the betas whose KL(policy || reference) is at "
                f"most {self.kl_budget:g} nats (0, the reference policy's reward, if none is)"
            )
        return (
            f"Each loss trains {policy} on {label}: {config.n_pairs} preference pairs labelled "
            f"by a noisy hidden reward{noise}, minibatch Adam (lr {config.learning_rate:g}, "
            f"batch {config.batch_size}, {config.epochs} epochs), starting from the reference "
            f"policy. It is trained at beta in {{{betas}}} on {len(self.seeds)} seeds. "
            f"Per seed the score is {rule}; the fitness is the mean over seeds (higher is "
            "better), reported with its standard deviation."
        )

    def score(self, evaluations: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(fitness, metrics)`` from ``evaluations``, one ``Evaluation.to_dict()`` per
        (seed, beta).

        ``fitness``: mean, sd (sample, 0 for one seed), n, and per seed the score and the beta
        that achieved it (None: no beta fitted the budget). ``metrics``: per beta, the mean over
        seeds of each metric in :data:`METRICS`, plus the sd of the reward.
        """
        per_seed, chosen = [], []
        for seed in self.seeds:
            runs = [e for e in evaluations if e["seed"] == seed]
            if not runs:
                raise ValueError(f"no evaluation for seed {seed}")
            fitting = [e for e in runs if self.kl_budget is None or e["kl"] <= self.kl_budget]
            if fitting:
                best = max(fitting, key=lambda e: e["reward"])
                per_seed.append(float(best["reward"]))
                chosen.append(float(best["beta"]))
            else:
                per_seed.append(float(runs[0]["reference_reward"]))
                chosen.append(None)
        fitness = {
            "mean": statistics.fmean(per_seed),
            "sd": statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0,
            "n": len(per_seed),
            "per_seed": per_seed,
            "beta_per_seed": chosen,
        }
        metrics: dict[str, Any] = {}
        for beta in self.betas:
            runs = [e for e in evaluations if e["beta"] == beta]
            if not runs:
                continue
            row = {name: statistics.fmean(e[name] for e in runs) for name in METRICS}
            rewards = [e["reward"] for e in runs]
            row["reward_sd"] = statistics.stdev(rewards) if len(rewards) > 1 else 0.0
            metrics[f"{beta:g}"] = row
        return fitness, metrics
