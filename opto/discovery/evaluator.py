"""Evaluating one proposal's code: static checks here, contract tests and training in a sandbox.

Stages and what their failures become:

============  ===========================================  =================================
stage         what is checked                              failure status
============  ===========================================  =================================
``static``    parses; one function takes the 5 loss        ``invalid``
              arguments; static safety check
``contract``  :mod:`opto.discovery.contract`, sandboxed    ``invalid`` (broken contract) or
                                                           ``failed`` (stopped by the sandbox)
``train``     training over seeds x betas, sandboxed       ``failed``
============  ===========================================  =================================

The proposal's code never runs in this process: both sandboxed stages run its code plus a
two-line driver in a fresh :class:`~opto.runtime.SubprocessPolicy` child. The default policies
keep one child per stage started ahead, confined and with numpy and the driver's modules
imported (``warm_workers``, ``preload``), so a stage does not wait for that start-up. Errors become
text (:func:`opto.runtime.feedback_text`) for the proposer, never exceptions for the caller.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from opto.discovery.contract import ContractSpec
from opto.discovery.errors import LossContractError
from opto.discovery.interface import loss_function_name, static_problems
from opto.discovery.objective import METRICS, LossObjective

STATUSES = ("valid", "invalid", "failed", "duplicate")
_ENTRY = "_opto_discovery_stage"
_DRIVER = """

def {entry}(stage, settings):
    from opto.discovery.worker import run_stage
    return run_stage({loss}, stage, settings)
"""


@dataclass
class Outcome:
    """The result of evaluating one proposal (``fitness`` and ``metrics`` only when valid).

    ``status`` is ``valid``, ``invalid`` or ``failed``; ``stage`` the stage that refused it
    (``static``, ``contract``, ``train``; None when valid) and ``error`` why, in words for
    the proposer. ``diagnostics`` are figures measured along the way (also on failure);
    ``seconds`` the time evaluation took.
    """

    status: str
    stage: str | None = None
    error: str | None = None
    fitness: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


# Imported by each warm child while it waits: the driver's own imports, done ahead of the call.
STAGE_PRELOAD = ("numpy", "opto.discovery.worker")


def default_contract_policy():
    """Contract tests: quick, so tight limits (numpy's import, done ahead by the warm child,
    takes most of the time)."""
    from opto.runtime import SubprocessPolicy

    return SubprocessPolicy(
        wall_time=30,
        cpu_time=10,
        memory="1GiB",
        echo_output=False,
        warm_workers=1,
        preload=STAGE_PRELOAD,
    )


def default_training_policy():
    """Training over every seed and beta in one child; generous, but bounded."""
    from opto.runtime import SubprocessPolicy

    return SubprocessPolicy(
        wall_time=900,
        cpu_time=900,
        memory="2GiB",
        echo_output=False,
        warm_workers=1,
        preload=STAGE_PRELOAD,
    )


class ProposalEvaluator:
    """Runs the stages for one code string; thread-safe (it holds only settings).

    ``objective`` says how a loss is trained and scored; ``contract`` the properties it must
    have (default: the standard contract). ``contract_policy`` and ``training_policy`` are
    the sandboxes the two stages run in (default: subprocess sandboxes with tight and with
    generous limits); ``static_check=False`` skips the static safety check (the sandbox
    still contains the code).
    """

    def __init__(
        self,
        objective: LossObjective,
        contract: ContractSpec | None = None,
        *,
        contract_policy=None,
        training_policy=None,
        static_check: bool = True,
    ) -> None:
        self.objective = objective
        self.contract = contract or ContractSpec()
        self.contract_policy = contract_policy or default_contract_policy()
        self.training_policy = training_policy or default_training_policy()
        self.static_check = static_check

    def evaluate(self, code: str, name: str | None = None) -> Outcome:
        """Evaluate ``code``; ``name`` picks the loss when several functions could be it."""
        started = time.monotonic()
        outcome = self._stages(code, name)
        outcome.seconds = round(time.monotonic() - started, 3)
        return outcome

    def _stages(self, code: str, name: str | None) -> Outcome:
        try:
            loss_name = loss_function_name(code, name)
        except SyntaxError as error:
            return Outcome("invalid", "static", _syntax_message(error))
        except LossContractError as error:
            return Outcome("invalid", "static", f"The code does not define the loss: {error}.")
        if self.static_check:
            problems = static_problems(code)
            if problems:
                return Outcome("invalid", "static", problems)
        source = code.rstrip("\n") + "\n" + _DRIVER.format(entry=_ENTRY, loss=loss_name)
        settings = {
            "objective": self.objective.to_dict(),
            "contract": self.contract.to_dict(),
            "code": code,
        }
        answer, failure = self._run(source, "contract", settings, self.contract_policy)
        if failure is not None:
            return failure
        if not answer["ok"]:
            return Outcome("invalid", "contract", f"Contract test failed: {_error_of(answer)}")
        try:
            diagnostics = _checked_diagnostics(answer.get("diagnostics"))
        except (TypeError, ValueError) as error:
            return Outcome("failed", "contract", f"The contract test returned {error}.")
        answer, failure = self._run(source, "train", settings, self.training_policy)
        if failure is not None:
            failure.diagnostics = diagnostics
            return failure
        if not answer["ok"]:
            return Outcome(
                "failed", "train", f"Training failed: {_error_of(answer)}", diagnostics=diagnostics
            )
        try:
            fitness, metrics = self.objective.score(self._checked(answer.get("evaluations")))
        except (KeyError, TypeError, ValueError) as error:
            return Outcome(
                "failed",
                "train",
                f"The training returned malformed results: {error}.",
                diagnostics=diagnostics,
            )
        return Outcome("valid", None, None, fitness, metrics, diagnostics)

    def _checked(self, evaluations: Any) -> list[dict[str, Any]]:
        """The answer of the training child, refused unless it covers exactly the grid with
        finite numbers (the child ran untrusted code, so its answer is only data)."""
        if not isinstance(evaluations, list) or not all(isinstance(e, dict) for e in evaluations):
            raise TypeError(f"expected a list of evaluations, got {type(evaluations).__name__}")
        grid = [(seed, beta) for seed in self.objective.seeds for beta in self.objective.betas]
        pairs = [(e.get("seed"), e.get("beta")) for e in evaluations]
        if len(pairs) != len(grid) or any(pairs.count(pair) != 1 for pair in grid):
            raise ValueError("the evaluations do not cover the seeds and betas of the objective")
        for evaluation in evaluations:
            for key in (*METRICS, "reference_reward"):
                value = evaluation.get(key)
                if type(value) not in (int, float) or not math.isfinite(value):
                    raise ValueError(f"{key} is {value!r}, not a finite number")
        return evaluations

    def _run(self, source: str, stage: str, settings: dict, policy) -> tuple[Any, Outcome | None]:
        import numpy

        from opto.runtime import SandboxError, feedback_text, run_function

        names = {"np": numpy, "numpy": numpy, "math": math}
        try:
            answer = run_function(source, _ENTRY, (stage, settings), policy=policy, namespace=names)
        except SandboxError as error:
            what = "contract test" if stage == "contract" else "training"
            return None, Outcome(
                "failed", stage, f"Stopped during the {what}: {feedback_text(error)}"
            )
        except Exception as error:  # the code's own exception while it was being loaded
            return None, Outcome("invalid", stage, f"The code raised: {feedback_text(error)}")
        if not isinstance(answer, dict) or "ok" not in answer:
            return None, Outcome("failed", stage, f"The sandbox returned {type(answer).__name__}.")
        return answer, None


def _checked_diagnostics(diagnostics: Any) -> dict[str, Any]:
    """The contract child's report, refused unless it has the shape of a
    :class:`~opto.discovery.contract.ContractReport` (its notes reach the proposer's prompt)."""
    if not isinstance(diagnostics, dict):
        raise TypeError(f"diagnostics of type {type(diagnostics).__name__}, not a dict")
    pointwise = diagnostics.get("pointwise")
    slopes = diagnostics.get("initial_slope")
    notes = diagnostics.get("notes")
    if not isinstance(pointwise, bool):
        raise ValueError(f"malformed diagnostics: pointwise is {pointwise!r}")
    if not isinstance(slopes, dict) or not all(
        isinstance(beta, str) and type(slope) in (int, float) for beta, slope in slopes.items()
    ):
        raise ValueError("malformed diagnostics: initial_slope is not a map of beta to number")
    if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
        raise ValueError("malformed diagnostics: notes is not a list of strings")
    return {"pointwise": pointwise, "initial_slope": slopes, "notes": notes}


def _error_of(answer: dict[str, Any]) -> str:
    error = answer.get("error")
    return error if isinstance(error, str) else f"(no error text; the answer was {answer!r:.200})"


def _syntax_message(error: SyntaxError) -> str:
    where = f" at line {error.lineno}" if error.lineno else ""
    text = f": `{error.text.strip()}`" if error.text and error.text.strip() else ""
    return f"SyntaxError{where}{text}: {error.msg}."
