"""Cascade evaluation: cheap checks first, and only what passes them pays for the next stage.

``Cascade`` is an evaluation policy (``opto.trainer.algorithms.evaluation_policy``). Its stages
name validation examples: typically contract tests first (does the code run, has it the right
shape), then a short evaluation, then the full one. A candidate is scored on a stage's
examples only if it passed every earlier stage, i.e. its mean ``metric`` over that stage's
examples reached the stage's ``min_score``; one that fails a stage is dropped (it never
enters the pool, so its partial scores cannot rank it above fully scored candidates). The last
stage usually takes the remaining examples (``examples=None``) and has no threshold.

The validation set is where the stages live: with ``optimize_anything`` the evaluator gets
each example and can run the stage it names (``valset=["contract", "short", "full"]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opto.trainer.algorithms.candidates import Candidate
from opto.trainer.algorithms.evaluation_policy import EvaluationPolicy, ValidationSet
from opto.trainer.objectives import aggregate_score_dicts


@dataclass(frozen=True)
class Stage:
    """One stage of a cascade.

    Args:
        examples: indices of validation examples (None: every example no earlier stage named).
        min_score: the least mean ``metric`` over these examples to go on (None: no gate).
        metric: the score-dict metric the gate reads (``"score"`` for plain numbers).
    """

    examples: Sequence[int] | None = None
    min_score: float | None = None
    metric: str = "score"


class Cascade(EvaluationPolicy):
    """Score candidates stage by stage, dropping those that fail a gate (module docstring).

    Args:
        stages: the stages, cheapest first.
        minibatch: also score each child on the minibatch it came from.
    """

    def __init__(self, stages: Sequence[Stage], minibatch: bool = False) -> None:
        super().__init__(minibatch)
        if not stages:
            raise ValueError("a Cascade needs at least one Stage")
        if any(stage.examples is None for stage in stages[:-1]):
            raise ValueError("only the last stage may take the remaining examples (None)")
        self.stages = list(stages)
        self.dropped = 0

    def stage_examples(self, size: int) -> list[list[int]]:
        """Each stage's example indices for a validation set of ``size`` examples."""
        named = {i for stage in self.stages if stage.examples is not None for i in stage.examples}
        bad = sorted(i for i in named if not 0 <= i < size)
        if bad:
            raise ValueError(f"cascade stages name examples {bad}; the validation set has {size}")
        return [
            list(stage.examples)
            if stage.examples is not None
            else [i for i in range(size) if i not in named]
            for stage in self.stages
        ]

    def evaluate(self, candidates: list[Candidate], validation: ValidationSet) -> list[Candidate]:
        going = list(candidates)
        for stage, examples in zip(self.stages, self.stage_examples(validation.size), strict=True):
            todo = [(c, [i for i in examples if i not in c.validation]) for c in going]
            todo = [(c, missing) for c, missing in todo if missing]
            if todo:
                validation.score([c for c, _ in todo], [missing for _, missing in todo])
            if stage.min_score is not None:
                passed = [c for c in going if _mean(c, examples, stage.metric) >= stage.min_score]
                self.dropped += len(going) - len(passed)
                going = passed
        return going

    def examples_per_candidate(self, size: int) -> int:
        return size

    def __repr__(self) -> str:
        return f"Cascade({self.stages!r}, minibatch={self.minibatch})"


def _mean(candidate: Candidate, examples: list[int], metric: str) -> float:
    scores = [candidate.validation[i] for i in examples if i in candidate.validation]
    if not scores:
        return float("-inf")
    return aggregate_score_dicts(scores).get(metric, float("-inf"))
