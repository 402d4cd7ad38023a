"""Knowing the cost before paying: ``train(..., dry_run=True)`` and ``opto estimate``.

A projection multiplies two things, neither of which calls a model:

- **the schedule**: the steps the run will make and the examples it will evaluate (training
  minibatches, minibatch rollouts of new candidates, validation, tests). It follows the loop's
  own rules: the same ``DataLoader`` (so the same epoch ends), the algorithm's ``Strategies``
  (each part says what it adds: parents per step, proposals per parent, minibatch rollouts
  for acceptance or statistics, validation examples per candidate, pool size) and the
  options (``num_steps``/``num_epochs``, ``batch_size``, ``test_frequency``...);
- **the unit prices**, measured on the first real minibatch by ``opto.trainer.dry_measure``:
  the calls the model and each guide make per example and the calls and prompt of one
  optimizer step, with each client's price per token.

It assumes every proposal is a new candidate and is kept (duplicates and refused children only
lower the real figures) and that prompts stay the size of the first one; replies are taken to
be ``REASONING_TOKENS`` plus the trainable values for an optimizer, ``REPLY_TOKENS`` otherwise.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from opto.trainer.algorithms.options import resolve_options
from opto.trainer.algorithms.selection import Selector
from opto.trainer.algorithms.strategies import Strategies
from opto.trainer.dry_measure import (
    REASONING_TOKENS,
    REPLY_TOKENS,
    CallGroup,
    Measurement,
    measure_step,
)
from opto.trainer.loader import DataLoader, check_dataset
from opto.utils.display import format_cost, format_count, html_block, text_block, text_table

MAX_SIMULATED_STEPS = 1_000_000


@dataclass
class Schedule:
    """What the run will do: ``steps``, optimizer steps per optimizer, examples per purpose.

    ``optimizer_steps`` counts the steps of each optimizer (they take turns); ``training``
    the examples run to make feedback, ``rollouts`` the runs of new candidates on the
    minibatch they came from (algorithms that score a child there before keeping it),
    ``validation`` and ``test`` the examples run to score candidates and to test.
    """

    steps: int = 0
    optimizer_steps: list[int] = field(default_factory=list)
    training: int = 0
    rollouts: int = 0
    validation: int = 0
    test: int = 0


@dataclass
class Estimate:
    """The projected calls, tokens and cost of a configured training run.

    ``algorithm`` names the algorithm and ``steps`` the optimizer steps it will take;
    ``basis`` keeps what the projection was computed from, for ``assuming``.
    ``parts`` holds ``{"calls", "prompt_tokens", "completion_tokens", "cost"}`` for
    ``"optimizer"``, ``"model"`` (the model's own calls) and ``"guide"``; ``examples`` the
    examples evaluated per purpose; ``prompt_tokens_per_step`` the measured size of the first
    optimizer prompt; ``reply_tokens`` and ``reasoning_tokens`` the reply lengths assumed
    (replies cannot be measured without asking for them; see ``assuming``); ``unpriced`` the
    models whose price is unknown (then ``cost`` counts only the priced calls); ``notes`` what
    the dry run met on the way.
    """

    algorithm: str
    steps: int
    examples: dict[str, int]
    parts: dict[str, dict[str, float]]
    prompt_tokens_per_step: int
    reply_tokens: int = REPLY_TOKENS
    reasoning_tokens: int = REASONING_TOKENS
    unpriced: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    basis: Basis | None = field(default=None, repr=False, compare=False)

    def assuming(
        self, reply_tokens: int | None = None, reasoning_tokens: int | None = None
    ) -> Estimate:
        """The same projection with other reply lengths: ``reply_tokens`` for each reply to
        the model's and the guide's calls, ``reasoning_tokens`` of reasoning in an
        optimizer's reply (besides the values it suggests). Nothing is measured again."""
        if self.basis is None:
            raise ValueError("this estimate keeps no measurement to recompute from")
        return self.basis.project(
            self.reply_tokens if reply_tokens is None else reply_tokens,
            self.reasoning_tokens if reasoning_tokens is None else reasoning_tokens,
        )

    def _total(self, key: str) -> float:
        return sum(part[key] for part in self.parts.values())

    @property
    def calls(self) -> int:
        """All projected calls: the optimizers', the model's and the guides'."""
        return round(self._total("calls"))

    @property
    def prompt_tokens(self) -> int:
        """Projected prompt tokens over all calls."""
        return round(self._total("prompt_tokens"))

    @property
    def completion_tokens(self) -> int:
        """Projected reply tokens over all calls (from the assumed reply lengths)."""
        return round(self._total("completion_tokens"))

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost(self) -> float:
        """Projected dollars of the priced calls (see ``unpriced`` for the others)."""
        return self._total("cost")

    def _rows(self) -> list[tuple[str, str]]:
        cost = format_cost(self.cost)
        if self.unpriced:
            cost += f" (no price known for {', '.join(self.unpriced)})"
        return [
            ("steps", format_count(self.steps)),
            ("calls", format_count(self.calls)),
            (
                "tokens",
                f"{format_count(self.tokens)} ({format_count(self.prompt_tokens)} prompt, "
                f"{format_count(self.completion_tokens)} completion)",
            ),
            ("cost", cost),
            ("optimizer prompt", f"{format_count(self.prompt_tokens_per_step)} tokens"),
            ("examples run", ", ".join(f"{k} {format_count(v)}" for k, v in self.examples.items())),
            (
                "assumed replies",
                f"{self.reply_tokens} tokens (model, guide); optimizer: its values + "
                f"{self.reasoning_tokens} tokens of reasoning",
            ),
        ]

    def _table(self) -> tuple[list[str], list[list[str]]]:
        header = ["part", "calls", "prompt tokens", "completion tokens", "cost"]
        body = [
            [
                name,
                format_count(part["calls"]),
                format_count(part["prompt_tokens"]),
                format_count(part["completion_tokens"]),
                format_cost(part["cost"]),
            ]
            for name, part in self.parts.items()
        ]
        return header, body

    def summary(self) -> str:
        """Several lines: the totals, then calls, tokens and cost per part, then notes."""
        header, body = self._table()
        lines = [
            text_block(f"Estimate for {self.algorithm} (no model was called)", self._rows()),
            text_table(header, body),
        ]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Estimate({self.algorithm}: {self.steps} steps, {self.calls} calls, "
            f"{self.tokens} tokens, {format_cost(self.cost)})"
        )

    def _repr_html_(self) -> str:
        rows = self._rows() + [("note", note) for note in self.notes]
        return html_block(f"Estimate for {self.algorithm}", rows, self._table())


def simulate_schedule(
    plan: Strategies,
    options: dict[str, Any],
    train_data: dict,
    validate_size: int,
    test_size: int,
    optimizers: int,
) -> Schedule:
    """Walk the loop's schedule without running anything (see the module docstring).

    ``plan`` is the algorithm's strategies and ``options`` its resolved options;
    ``train_data`` gives the batches; ``validate_size`` and ``test_size`` are the sizes of
    the validation and test sets (0: none); ``optimizers`` how many optimizers take turns.
    """
    loader = DataLoader(train_data, batch_size=options["batch_size"], seed=options["seed"])
    schedule = Schedule(optimizer_steps=[0] * optimizers)
    batch = options["batch_size"]
    test_every = options["test_frequency"]
    test_runs = test_size * options["num_test_samples"] if test_size else 0
    pool = 1
    tested_at = None
    per_candidate = plan.evaluation.examples_per_candidate(validate_size)
    schedule.validation += per_candidate  # the first candidate
    if test_runs and test_every and test_every > 0:  # a negative frequency skips this one
        schedule.test += test_runs
        tested_at = 0
    while not _done(schedule.steps, loader, options):
        if schedule.steps >= MAX_SIMULATED_STEPS:
            raise ValueError(f"the run would take more than {MAX_SIMULATED_STEPS} steps")
        schedule.steps += 1
        draws = _parents(plan, pool) * plan.proposals
        for _ in range(draws):
            loader.next_indices()
        schedule.optimizer_steps[(schedule.steps - 1) % optimizers] += draws
        schedule.training += draws * batch
        if plan.scores_children_on_minibatch:
            schedule.rollouts += draws * batch
        schedule.validation += draws * per_candidate
        pool = plan.pool_policy.projected_size(pool, draws)
        if test_runs and test_every and schedule.steps % abs(test_every) == 0:
            schedule.test += test_runs
            tested_at = schedule.steps
    if test_runs and tested_at != schedule.steps:  # the final test, unless just tested
        schedule.test += test_runs
    return schedule


def _done(steps: int, loader: DataLoader, options: dict[str, Any]) -> bool:
    if options["num_steps"] is not None:
        return steps >= options["num_steps"]
    return loader.n_epochs >= options["num_epochs"]


def _parents(plan: Strategies, pool: int) -> int:
    """Parents a step picks from a pool of ``pool`` candidates (a selector of opto's says;
    one for any other object with a ``select`` method)."""
    if isinstance(plan.selector, Selector):
        return plan.selector.parents(pool)
    return 1


def estimate_training(trainer: Any, guide: Any, train_dataset: dict, options: dict) -> Estimate:
    """The projection for ``trainer.train(guide=guide, train_dataset=..., **options)``.

    ``trainer`` must be a ``SearchLoop`` (every algorithm of opto's loop is one). No model is
    called and nothing is written; the model's parameters are left as they were.
    """
    strategies = getattr(trainer, "strategies", None)
    if strategies is None:
        raise TypeError(
            f"dry_run=True projects the schedule of opto's training loop (SearchLoop: "
            f"MinibatchAlgorithm, BasicSearchAlgorithm, BeamsearchAlgorithm, "
            f"UCBSearchAlgorithm, GEPA); {type(trainer).__name__} runs its own schedule"
        )
    opts = resolve_options(trainer, options)
    train_data = check_dataset(train_dataset, "train_dataset")
    validate_data = check_dataset(opts["validate_dataset"] or train_dataset, "validate_dataset")
    test_data = (
        check_dataset(opts["test_dataset"], "test_dataset") if opts["test_dataset"] else None
    )
    plan = strategies(opts)
    guides = (guide, opts["validate_guide"] or guide, opts["test_guide"] or guide)
    schedule = simulate_schedule(
        plan,
        opts,
        train_data,
        len(validate_data["inputs"]),
        len(test_data["inputs"]) if test_data else 0,
        len(trainer.optimizers),
    )
    measured = measure_step(
        trainer.agent,
        trainer.optimizers,
        list(guides),
        train_data,
        opts["batch_size"],
        opts["seed"],
        opts["min_score"],
    )
    basis = Basis(type(trainer).__name__, schedule, measured, tuple(id(g) for g in guides))
    return basis.project(REPLY_TOKENS, REASONING_TOKENS)


@dataclass(frozen=True)
class Basis:
    """What a projection is computed from: the schedule, the measurement and the guides'
    ids (training, validation, test); ``project`` applies the assumed reply lengths.
    ``algorithm`` names the algorithm, ``schedule`` is what the run will do and ``measured``
    what the dry run of one step recorded."""

    algorithm: str
    schedule: Schedule
    measured: Measurement
    guides: tuple[int, int, int]

    def project(self, reply_tokens: int, reasoning_tokens: int) -> Estimate:
        """The estimate if each reply to the model's and guides' calls has ``reply_tokens``
        tokens and each optimizer reply ``reasoning_tokens`` of reasoning besides its
        suggestion."""
        schedule, measured = self.schedule, self.measured
        parts = {name: _zero() for name in ("optimizer", "model", "guide")}
        unpriced: set[str] = set()
        for count, recorded, restated in zip(
            schedule.optimizer_steps, measured.optimizers, measured.suggestion_tokens, strict=True
        ):
            group = CallGroup.from_calls(recorded, 1, restated + reasoning_tokens)
            _add(parts["optimizer"], group, count, unpriced)
        scored = schedule.training + schedule.rollouts
        evaluated = scored + schedule.validation + schedule.test
        per_example = measured.examples
        model = CallGroup.from_calls(measured.model, per_example, reply_tokens)
        _add(parts["model"], model, evaluated, unpriced)
        counts = (scored, schedule.validation, schedule.test)
        for guide, count in zip(self.guides, counts, strict=True):
            group = CallGroup.from_calls(measured.guides[guide], per_example, reply_tokens)
            _add(parts["guide"], group, count, unpriced)
        examples = {
            "training": schedule.training,
            "rollouts": schedule.rollouts,
            "validation": schedule.validation,
            "test": schedule.test,
        }
        return Estimate(
            algorithm=self.algorithm,
            steps=schedule.steps,
            examples={k: v for k, v in examples.items() if v},
            parts=parts,
            prompt_tokens_per_step=measured.optimizer_prompt_tokens,
            reply_tokens=reply_tokens,
            reasoning_tokens=reasoning_tokens,
            unpriced=sorted(unpriced),
            notes=sorted(set(measured.notes)),
            basis=self,
        )


def _zero() -> dict[str, float]:
    return {"calls": 0.0, "prompt_tokens": 0.0, "completion_tokens": 0.0, "cost": 0.0}


def _add(part: dict[str, float], group: CallGroup, count: int, unpriced: set[str]) -> None:
    part["calls"] += group.calls * count
    part["prompt_tokens"] += group.prompt_tokens * count
    part["completion_tokens"] += group.completion_tokens * count
    part["cost"] += group.cost * count
    if count:
        unpriced.update(group.unpriced)


# -- estimating a script: what ``opto estimate script.py`` uses -----------------------------

_SCRIPT_ESTIMATE = contextvars.ContextVar("opto_script_estimate", default=False)


class EstimateReady(BaseException):
    """Raised by ``train()`` inside ``estimating_scripts()``: the script stops at its first
    ``train()`` call, which hands back its projection instead of training. A BaseException,
    so that a script's ``except Exception`` does not swallow it. ``estimate`` is the
    projection, also the exception's message as a summary."""

    def __init__(self, estimate: Estimate) -> None:
        super().__init__(estimate.summary())
        self.estimate = estimate


@contextlib.contextmanager
def estimating_scripts() -> Iterator[None]:
    """Within the block, ``train()`` projects instead of training and raises ``EstimateReady``."""
    token = _SCRIPT_ESTIMATE.set(True)
    try:
        yield
    finally:
        _SCRIPT_ESTIMATE.reset(token)


def script_estimate_requested() -> bool:
    """True inside ``estimating_scripts()``."""
    return _SCRIPT_ESTIMATE.get()
