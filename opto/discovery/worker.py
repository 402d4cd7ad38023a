"""The side of a proposal's evaluation that runs inside the sandbox, next to the proposed code.

:mod:`opto.discovery.evaluator` appends a small driver to the proposal's code and runs it under
a :class:`~opto.runtime.SubprocessPolicy`; the driver calls :func:`run_stage` with the loss.
Answers are plain data (they cross the process boundary): ``{"ok": True, ...}`` or
``{"ok": False, "error": text}`` for a broken contract or a diverged training. A ``MemoryError``
is raised again, so that the sandbox reports it as the memory limit it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from opto.discovery.contract import ContractSpec, run_contract
from opto.discovery.errors import LossContractError, TrainingDivergedError
from opto.discovery.losses import PreferenceLoss
from opto.discovery.objective import LossObjective
from opto.discovery.preference_task import PreferenceTask

STAGES = ("contract", "train")


def run_stage(loss: PreferenceLoss, stage: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Run one stage (``"contract"`` or ``"train"``) of the evaluation of ``loss``.

    ``settings`` are the archive's objective and contract as JSON data (the child process
    rebuilds them), plus the proposal's ``code`` for locating errors in it.
    """
    objective = LossObjective.from_dict(settings["objective"])
    try:
        with np.errstate(all="ignore"):
            if stage == "contract":
                spec = ContractSpec.from_dict(settings["contract"])
                report = run_contract(loss, spec, objective.betas)
                return {"ok": True, "diagnostics": report.to_dict()}
            if stage == "train":
                return {"ok": True, "evaluations": train_all(loss, objective)}
    except (LossContractError, TrainingDivergedError) as error:
        memory = _memory_error(error)
        if memory is not None:  # as a builtin MemoryError, keeping the line in the proposal
            raise MemoryError(str(memory)).with_traceback(memory.__traceback__) from None
        return {"ok": False, "error": str(error) + _where(error, loss, settings.get("code", ""))}
    raise ValueError(f"unknown stage {stage!r}; the stages are {STAGES}")


def train_all(loss: PreferenceLoss, objective: LossObjective) -> list[dict[str, Any]]:
    """Train ``loss`` once per (seed, beta) of ``objective``: the evaluations as plain
    dicts; stops at the first diverged run."""
    task = PreferenceTask(objective.preset)
    evaluations = []
    for seed in objective.seeds:
        for beta in objective.betas:
            try:
                result = task.evaluate(loss, beta, seed, name="proposal")
            except TrainingDivergedError as error:
                raise TrainingDivergedError(
                    f"training diverged at beta={beta:g}, seed {seed}: {error}",
                    epoch=error.epoch,
                    step=error.step,
                ) from error
            evaluations.append({key: _plain(value) for key, value in result.to_dict().items()})
    return evaluations


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _memory_error(error: BaseException) -> MemoryError | None:
    seen = error
    while seen is not None:
        if isinstance(seen, MemoryError):
            return seen
        seen = seen.__cause__
    return None


def _where(error: BaseException, loss: PreferenceLoss, code: str) -> str:
    """`` (line N of the code: `...`)`` for the innermost frame of the proposal, if any."""
    filename = getattr(getattr(loss, "__code__", None), "co_filename", None)
    cause = error.__cause__
    if filename is None or cause is None:
        return ""
    line = None
    trace = cause.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == filename:
            line = trace.tb_lineno
        trace = trace.tb_next
    if line is None:
        return ""
    lines = code.splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return f" (line {line} of the code: `{text}`)" if text else f" (line {line} of the code)"
