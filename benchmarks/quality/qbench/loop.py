"""The step loop every task shares, and the records it writes.

A task program offers ``parameters()``, ``evaluate() -> Evaluation`` (scores the current
parameters on held-out data) and ``forward() -> (output node, feedback text)`` (runs the traced
program on training data). The loop evaluates, then for each step of the budget: forward,
backward, one optimizer step, evaluate again; it stops early once the task is solved.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qbench.adapters.common import StepStats

REPLY_EXCERPT = 600


@dataclass
class Evaluation:
    """Held-out ``score`` in [0, 1], whether the task's criterion is met, and details."""

    score: float
    success: bool
    details: dict = field(default_factory=dict)


def run(
    side: Any,
    program: Any,
    task: dict,
    emit: Callable[[dict], None],
) -> dict:
    """Train ``program`` for ``task["budget"]`` steps; emit one record per step; return the
    summary record (also emitted)."""
    started = time.perf_counter()
    base = {"task": task["id"], "family": task["family"], "impl": side.name}
    steps: list[dict] = []
    error = None

    def record(step: int, evaluation: Evaluation, stats: StepStats | None) -> None:
        entry = {
            **base,
            "kind": "step",
            "step": step,
            "score": round(evaluation.score, 6),
            "success": evaluation.success,
            "details": evaluation.details,
            "usage": side.counters.snapshot(),
            "elapsed_s": round(time.perf_counter() - started, 3),
        }
        if stats is not None:
            data = stats.to_dict()
            data["reply"] = data["reply"][:REPLY_EXCERPT]
            entry["optimizer"] = data
        steps.append(entry)
        emit(entry)

    try:
        optimizer = side.optimizer(program.parameters())
        evaluation = program.evaluate()
        record(0, evaluation, None)
        for step in range(1, task["budget"] + 1):
            if evaluation.success:
                break
            output, feedback = program.forward()
            optimizer.zero_feedback()
            optimizer.backward(output, feedback)
            stats = side.step(optimizer)
            evaluation = program.evaluate()
            record(step, evaluation, stats)
    except Exception as failure:
        error = f"{type(failure).__name__}: {failure}"[:2000]
        emit({**base, "kind": "error", "error": error, "traceback": traceback.format_exc()[-4000:]})
    summary = summarize(base, steps, error, time.perf_counter() - started, side.counters.snapshot())
    emit(summary)
    return summary


def summarize(base: dict, steps: list[dict], error: str | None, wall: float, usage: dict) -> dict:
    """The run record: outcome, steps to solve, and counts over all optimizer steps."""
    optimizer_steps = [s["optimizer"] for s in steps if "optimizer" in s]
    solved = [s["step"] for s in steps if s["success"]]
    return {
        **base,
        "kind": "run",
        "success": bool(solved),
        "steps_to_solve": solved[0] if solved else None,
        "steps": len(optimizer_steps),
        "initial_score": steps[0]["score"] if steps else None,
        "final_score": steps[-1]["score"] if steps else None,
        "scores": [s["score"] for s in steps],
        "usage": usage,
        "replies": len(optimizer_steps),
        "parsed": sum(1 for s in optimizer_steps if s["parsed"]),
        "applied": sum(len(s["applied"]) for s in optimizer_steps),
        "refused": sum(len(s["refused"]) for s in optimizer_steps),
        "unknown": sum(len(s["unknown"]) for s in optimizer_steps),
        "wall_s": round(wall, 3),
        "error": error,
    }
