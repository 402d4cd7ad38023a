"""Stop conditions: when the search loop ends a run early, between two steps.

A stop condition is one part a run is given (``train(..., stop_conditions=[...])``). Before
each step the loop shows every condition a ``Progress`` (what the run has done so far, earlier
sessions of a resumed run included) and stops at the first that gives a reason. The reason
is the run's ``stopped`` value (in the ``TrainResult``, the checkpoint and ``run.jsonl``), so
a stopped run says why. The run stops cleanly: the last step is complete and checkpointed, and
``resume`` continues it once the condition no longer holds (a larger limit, the file removed).

Conditions are checked between steps, never inside one: a step that starts under a limit
finishes, so a run may pass ``MaxEvaluations`` or ``TimeLimit`` by what one step spends.
The cost and LLM-call budgets (``max_cost``, ``max_calls``) are different: they interrupt a
step at the call that would exceed them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """What a run has done, as stop conditions see it.

    Args:
        step: steps completed.
        evaluations: examples scored so far (every call of the guide: on minibatches, the
            validation set and the test set).
        elapsed: seconds the run has taken.
        best_score: the current candidate's score (None before it is scored).
        best_step: the step at which the current candidate was proposed (0: the start).
    """

    step: int
    evaluations: int
    elapsed: float
    best_score: float | None
    best_step: int


class StopCondition:
    """Base of stop conditions: subclasses define ``reason``."""

    def reason(self, progress: Progress) -> str | None:
        """Why the run stops now (a short phrase, e.g. ``"time limit"``), or None to go on.

        Args:
            progress: what the run has done so far (steps, evaluations, time, best score).
        """
        raise NotImplementedError(f"{type(self).__name__} must define reason()")


class MaxEvaluations(StopCondition):
    """Stop once ``limit`` examples have been scored (GEPA's ``max_metric_calls``).

    Args:
        limit: the number of scored examples after which no new step starts.
    """

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"the evaluation limit must be an int >= 0, got {limit!r}")
        self.limit = limit

    def reason(self, progress: Progress) -> str | None:
        if progress.evaluations >= self.limit:
            return "max evaluations"
        return None

    def __repr__(self) -> str:
        return f"MaxEvaluations({self.limit})"


class TimeLimit(StopCondition):
    """Stop once the run has taken ``seconds`` (earlier sessions of a resumed run count).

    Args:
        seconds: the wall-clock time after which no new step starts.
    """

    def __init__(self, seconds: float) -> None:
        if not isinstance(seconds, int | float) or not seconds > 0 or math.isinf(seconds):
            raise ValueError(
                f"the time limit must be a finite number of seconds > 0, got {seconds!r}"
            )
        self.seconds = float(seconds)

    def reason(self, progress: Progress) -> str | None:
        return "time limit" if progress.elapsed >= self.seconds else None

    def __repr__(self) -> str:
        return f"TimeLimit({self.seconds})"


class ScoreThreshold(StopCondition):
    """Stop once the best candidate scores at least ``threshold`` (by the run's objective).

    Args:
        threshold: the score that is good enough.
    """

    def __init__(self, threshold: float) -> None:
        if not isinstance(threshold, int | float) or math.isnan(threshold):
            raise ValueError(f"the score threshold must be a number, got {threshold!r}")
        self.threshold = float(threshold)

    def reason(self, progress: Progress) -> str | None:
        best = progress.best_score
        if best is not None and best >= self.threshold:
            return "score threshold"
        return None

    def __repr__(self) -> str:
        return f"ScoreThreshold({self.threshold})"


class NoImprovement(StopCondition):
    """Stop when the best candidate has not changed for ``patience`` steps.

    The best candidate's age is read from the pool (the step it was proposed at), so the
    count survives a resume without state of its own.

    Args:
        patience: steps without a new best after which the run stops.
    """

    def __init__(self, patience: int) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be an int >= 1, got {patience!r}")
        self.patience = patience

    def reason(self, progress: Progress) -> str | None:
        if progress.step - progress.best_step >= self.patience:
            return "no improvement"
        return None

    def __repr__(self) -> str:
        return f"NoImprovement({self.patience})"


class StopFile(StopCondition):
    """Stop when a file exists (create it from another shell to end a run at the next step).

    The file is left in place: remove it before resuming, or the run stops again at once.

    Args:
        path: the file to watch.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)

    def reason(self, progress: Progress) -> str | None:
        return "stop file" if os.path.exists(self.path) else None

    def __repr__(self) -> str:
        return f"StopFile({self.path!r})"


def first_reason(conditions: list[StopCondition], progress: Progress) -> str | None:
    """The reason of the first condition that stops the run, or None.

    Args:
        conditions: the run's stop conditions, asked in order (later ones are not asked
            once one gives a reason).
        progress: what the run has done so far.
    """
    for condition in conditions:
        reason = condition.reason(progress)
        if reason:
            return str(reason)
    return None
