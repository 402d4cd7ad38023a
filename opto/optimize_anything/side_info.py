"""What an evaluation returns, and how it becomes the optimizer's feedback.

An evaluator returns a score, or ``(score, side_info)`` with ``side_info`` a dict of anything
that explains the score: stdout, errors, metrics, the expected output. Everything in it is
rendered into the feedback text the optimizer reads, so the LLM sees why a candidate scored
what it did, not only how much. Lines passed to ``log()`` during the evaluation and, with
``capture_stdio``, what it printed are added to it. A ``"scores"`` dict in the side info holds
further metrics: they are recorded per candidate and can be objectives of their own.

An evaluator that raises is scored ``failure_score`` and its traceback is the feedback, since
the candidate under evaluation is the most likely cause.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import math
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

FIELD_LIMIT = 4000
"""Characters of one side-info field shown in the feedback (the rest is cut, and says so)."""

_LOG: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("oa_log", default=None)


def log(*parts: Any, sep: str = " ") -> None:
    """Add a line to the side info of the evaluation running in this thread (GEPA's
    ``oa.log``); outside an evaluation it does nothing.

    Args:
        parts: what to write (each converted with ``str``).
        sep: the separator between parts.
    """
    lines = _LOG.get()
    if lines is not None:
        lines.append(sep.join(str(part) for part in parts))


@dataclass
class EvaluationRecord:
    """One evaluation of a candidate on one example.

    Args:
        score: the score (higher is better).
        scores: further metrics (the side info's ``"scores"``), each a number.
        side_info: what the evaluator returned besides the score (and the log lines, the
            captured output and the error, under ``"log"``, ``"stdout"``, ``"stderr"`` and
            ``"error"``).
    """

    score: float
    scores: dict[str, float] = field(default_factory=dict)
    side_info: dict[str, Any] = field(default_factory=dict)

    def score_dict(self) -> dict[str, float]:
        """The score and the further metrics, as the trainer ranks them."""
        return {"score": self.score, **self.scores}

    def __repr__(self) -> str:
        return f"EvaluationRecord(score={self.score!r}, side_info keys={sorted(self.side_info)})"


def run_evaluation(call: Any, failure_score: float, capture_stdio: bool) -> EvaluationRecord:
    """Call ``call()`` (the evaluator on one candidate and example) and read what it returns.

    Args:
        call: a function of no arguments that runs the evaluator.
        failure_score: the score when it raises or returns something unusable.
        capture_stdio: record what it prints.
    """
    lines: list[str] = []
    token = _LOG.set(lines)
    extra: dict[str, Any] = {}
    try:
        with _captured(capture_stdio) as streams:
            try:
                returned = call()
            except Exception as error:  # the candidate's fault as often as the evaluator's
                returned = None
                extra["error"] = _short_traceback(error)
        record = (
            _failure(failure_score) if "error" in extra else read_returned(returned, failure_score)
        )
    finally:
        _LOG.reset(token)
    if lines:
        extra["log"] = "\n".join(lines)
    for name, buffer in streams.items():
        text = buffer.getvalue()
        if text:
            extra[name] = text
    record.side_info = {**record.side_info, **extra}
    return record


def read_returned(returned: Any, failure_score: float) -> EvaluationRecord:
    """The record for what an evaluator returned: a number, ``(number, dict)``, or a dict
    with a ``"score"``; anything else is a failure that says what was wrong.

    Args:
        returned: the evaluator's return value (untrusted: any object).
        failure_score: the score of the record when ``returned`` is unusable (a score that
            is not a finite number, side info that is not a dict); its ``"error"`` says why.
    """
    score, side_info = returned, {}
    if isinstance(returned, tuple) and len(returned) == 2:
        score, side_info = returned
    elif isinstance(returned, dict) and "score" in returned:
        score = returned["score"]
        side_info = {k: v for k, v in returned.items() if k != "score"}
    if not isinstance(side_info, dict):
        return _failure(
            failure_score,
            f"the evaluator returned side info of type {type(side_info).__name__}; "
            "it must be a dict",
        )
    if not _number(score):
        return _failure(
            failure_score,
            f"the evaluator returned {_show(score)} as the score; it must be a finite number",
        )
    scores = {}
    extra = side_info.get("scores")
    if isinstance(extra, dict):
        scores = {str(k): float(v) for k, v in extra.items() if _number(v) and k != "score"}
    return EvaluationRecord(float(score), scores, dict(side_info))


def feedback_text(record: EvaluationRecord, limit: int = FIELD_LIMIT) -> str:
    """The feedback the optimizer reads: the score, then each side-info field.

    Args:
        record: the evaluation to render.
        limit: the characters of one field shown (default ``FIELD_LIMIT``); a longer field
            is cut and the text says how much was cut, so one huge log cannot crowd out the
            rest of the prompt.
    """
    lines = [f"Score: {record.score:g}"]
    for name, value in record.side_info.items():
        if name == "scores" and isinstance(value, dict):
            text = ", ".join(f"{k}={_compact(v)}" for k, v in value.items())
        else:
            text = value if isinstance(value, str) else _show(value, limit)
        if len(text) > limit:
            text = text[:limit] + f"\n... ({len(text) - limit} more characters cut)"
        separator = "\n" if "\n" in text else " "
        lines.append(f"{name}:{separator}{text}")
    return "\n".join(lines)


def _compact(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else _show(value)


def _failure(failure_score: float, message: str | None = None) -> EvaluationRecord:
    return EvaluationRecord(float(failure_score), {}, {"error": message} if message else {})


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _show(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception as error:  # a hostile __repr__ must not break the run
        text = f"<{type(value).__name__} whose repr raised {type(error).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def _short_traceback(error: BaseException) -> str:
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    text = "".join(lines[-12:])
    return text if len(text) <= FIELD_LIMIT else "..." + text[-FIELD_LIMIT:]


class _ThreadStreams(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr`` while evaluations capture their output:
    writes from a thread that is capturing go to its buffer, all others to the real stream."""

    def __init__(self, real: Any, local: threading.local, name: str) -> None:
        self.real = real
        self.local = local
        self.name = name

    def write(self, text: str) -> int:
        buffer = getattr(self.local, self.name, None)
        if buffer is None:
            return self.real.write(text)
        return buffer.write(text)

    def flush(self) -> None:
        self.real.flush()


class _Capture:
    """The installed stream proxies, shared by the evaluations that capture at one time."""

    lock = threading.Lock()
    users = 0
    local = threading.local()
    saved: tuple[Any, Any] | None = None


@contextlib.contextmanager
def _captured(enabled: bool) -> Iterator[dict[str, io.StringIO]]:
    """Capture this thread's stdout and stderr into the yielded buffers (when enabled)."""
    if not enabled:
        yield {}
        return
    with _Capture.lock:
        if _Capture.users == 0:
            _Capture.saved = (sys.stdout, sys.stderr)
            sys.stdout = _ThreadStreams(sys.stdout, _Capture.local, "stdout")
            sys.stderr = _ThreadStreams(sys.stderr, _Capture.local, "stderr")
        _Capture.users += 1
    buffers = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    _Capture.local.stdout, _Capture.local.stderr = buffers["stdout"], buffers["stderr"]
    try:
        yield buffers
    finally:
        _Capture.local.stdout = _Capture.local.stderr = None
        with _Capture.lock:
            _Capture.users -= 1
            if _Capture.users == 0 and _Capture.saved is not None:
                sys.stdout, sys.stderr = _Capture.saved
                _Capture.saved = None
