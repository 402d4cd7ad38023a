"""The preference-loss task as an evaluator: ``evaluator(code) -> (fitness, side_info)``.

This is the shape ``optimize_anything`` (and GEPA) call, and the one every discovery task
offers (the external suites of ``opto.discovery.suites`` too), so any of them plugs into
``discover``. ``LossEvaluator`` runs a proposal through :class:`ProposalEvaluator` (static
checks, then sandboxed contract tests and training) and returns its fitness, or
``failure_score`` when the code is invalid or failed, with side information: ``feedback``,
the text the DiscoPOP loop feeds back (the fitness over seeds and the metrics per beta, or the
status, stage and error), and ``"scores"``, numbers the archive keeps per candidate
(``valid``, ``fitness_sd``).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from opto.discovery.contract import ContractSpec
from opto.discovery.evaluator import Outcome, ProposalEvaluator
from opto.discovery.objective import LossObjective
from opto.discovery.prompts import NEXT, error_feedback, valid_feedback

FAILURE_SCORE = -10.0
"""The fitness of an invalid or failed loss: below any reward the task can give (the reward is
normalised to sd 1 under the reference, and the worst losses reach about -2)."""


class LossEvaluator:
    """Scores loss code on the preference task (see the module docstring).

    Args:
        objective: how losses are trained and scored (default ``LossObjective()``).
        contract: the contract tests (default ``ContractSpec()``).
        failure_score: the fitness of an invalid or failed proposal.
        evaluator: the stage runner (default: a ``ProposalEvaluator`` for ``objective`` and
            ``contract``; pass one to choose its sandbox policies).
    """

    def __init__(
        self,
        objective: LossObjective | None = None,
        contract: ContractSpec | None = None,
        *,
        failure_score: float = FAILURE_SCORE,
        evaluator: ProposalEvaluator | None = None,
    ) -> None:
        self.objective = objective or LossObjective()
        self.contract = contract or ContractSpec()
        self.failure_score = failure_score
        self.stages = evaluator or ProposalEvaluator(self.objective, self.contract)

    def __call__(self, code: str, seed: int | None = None) -> tuple[float, dict[str, Any]]:
        """``(fitness, side_info)`` of ``code`` over the objective's seeds, or over ``seed``
        alone (then the pool keeps one fitness per seed: ``discover(..., per_seed=True)``)."""
        if not isinstance(code, str):
            outcome = Outcome("invalid", "static", f"the candidate is a {type(code).__name__}")
        else:
            outcome = self._stages_for(seed).evaluate(code)
        return side_info_of(outcome, self.failure_score)

    def _stages_for(self, seed: int | None) -> ProposalEvaluator:
        """The stage runner, with the objective narrowed to one seed when one is given."""
        if seed is None:
            return self.stages
        if seed not in self.objective.seeds:
            raise ValueError(f"seed {seed!r} is not one of the objective's {self.objective.seeds}")
        narrowed = copy.copy(self.stages)
        narrowed.objective = dataclasses.replace(self.objective, seeds=(seed,))
        return narrowed


def side_info_of(outcome: Outcome, failure_score: float) -> tuple[float, dict[str, Any]]:
    """``(fitness, side_info)`` for one evaluated proposal.

    Args:
        outcome: what :class:`ProposalEvaluator` found for the proposal.
        failure_score: the fitness given when ``outcome`` is not valid, so a broken loss
            ranks below every trained one.
    """
    valid = outcome.status == "valid"
    info: dict[str, Any] = {}
    if valid:
        notes = outcome.diagnostics.get("notes", [])
        info["feedback"] = _without_request(valid_feedback(outcome.fitness, outcome.metrics, notes))
        score = float(outcome.fitness["mean"])
        sd = float(outcome.fitness["sd"])
    else:
        info["feedback"] = _without_request(
            error_feedback(outcome.status, outcome.stage, outcome.error or "")
        )
        score, sd = failure_score, 0.0
    # no wall time here: the feedback must be the same when a resumed run evaluates again
    info["scores"] = {"valid": float(valid), "fitness_sd": sd}
    return score, info


def _without_request(text: str) -> str:
    """The feedback without its closing request (the proposer adds its own)."""
    return text[: -len(NEXT)].rstrip() if text.endswith(NEXT) else text
