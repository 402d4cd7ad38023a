"""What scoring one candidate on an external suite gives back: a status, a score or an error.

A suite's own scorer decides the score; opto decides only whether the candidate got that far.
The statuses are those of the discovery archive: ``valid`` (the suite scored it), ``invalid``
(refused before running, raised, or rejected by the suite's scorer) and ``failed`` (stopped by
the sandbox: time, memory, a forbidden operation, or an answer that was not a score).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from opto.utils.errors import OptoError

STATUSES = ("valid", "invalid", "failed")


class SuiteUnavailableError(OptoError, ImportError):
    """The package of an external suite is not installed, or lacks the task asked for.

    An ``OptoError``, and an ``ImportError`` so that code probing for optional parts can catch
    it as one.
    """


@dataclass(frozen=True)
class TaskResult:
    """The outcome of one candidate on an external task.

    ``score`` is the suite's own number (higher is better) when ``status`` is ``"valid"``, else
    None; ``stage`` says where a refusal happened (``"static"`` or ``"evaluate"``); ``error`` is
    the text the proposer reads; ``seconds`` is the wall time of the whole evaluation.
    """

    status: str
    score: float | None = None
    stage: str | None = None
    error: str | None = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; the statuses are {STATUSES}")
        if (self.status == "valid") != (self.score is not None):
            raise ValueError("a valid result has a score, and only a valid one")

    @property
    def valid(self) -> bool:
        """Whether the suite scored the candidate (``status == "valid"``)."""
        return self.status == "valid"

    def feedback(self, failure_score: float | None = None) -> str:
        """The text a proposer reads about this candidate.

        ``failure_score``, when given, is the score an invalid or failed candidate is ranked at;
        the text says so, so that the number in a score history is not mistaken for a result.
        """
        if self.valid:
            return f"Score: {self.score:.6g} (higher is better)."
        head = "Invalid" if self.status == "invalid" else "Failed"
        ranked = "" if failure_score is None else f" It is ranked at {failure_score:.6g}."
        return f"{head} at the {self.stage} stage: {self.error}{ranked}"

    def side_info(self) -> dict[str, Any]:
        """The result as plain data (status, stage, error, seconds), for an evaluator's caller."""
        return {key: value for key, value in asdict(self).items() if value is not None}
