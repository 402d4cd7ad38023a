"""Guides: what turns a model's response into a score and feedback for the optimizer.

``guide(task, response, info)`` returns ``(score, feedback)``. The score is a number, or a dict
``{metric: number}`` for several objectives; the feedback is text the optimizer reads. Write a
subclass with ``get_feedback``, wrap a plain metric function in ``MetricGuide``, or let an LLM
judge with ``LLMJudge``.
"""

from __future__ import annotations

import copy
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opto.llm.base import BaseLLM
from opto.llm.config import NOT_CONFIGURED_HELP, is_configured
from opto.llm.errors import LLMNotConfiguredError
from opto.trainer.objectives import to_score_dict
from opto.trainer.suggest import Suggest
from opto.utils.atomic import atomic_write_json
from opto.utils.rendering import render_repr, render_text

__all__ = [
    "AutoGuide",
    "ExactMatchGuide",
    "Guide",
    "LLMJudge",
    "MetricGuide",
    "Suggest",
    "as_guide",
    "exact_match_metric",
]


def exact_match_metric(question: Any, student_answer: Any, info: Any) -> float:
    """1.0 when ``student_answer`` equals the reference ``info``, else 0.0 (``question`` is
    taken for Trace's metric signature and not used)."""
    return float(student_answer == info)


class Guide:
    """Base class: implement ``get_feedback(query, response, reference) -> (score, feedback)``.

    A guide is what turns one output of the model into the two things training needs: a
    score to compare candidates by and a feedback text for the optimizer. Trainers call it
    as ``guide(task, response, info)``.
    """

    def __call__(self, task: Any, response: Any, info: Any, **kwargs: Any) -> tuple[Any, str]:
        """``(score, feedback)`` for the model's ``response`` to the input ``task``, judged
        against the example's ``info`` (its reference); same as :meth:`forward`."""
        return self.forward(task, response, info, **kwargs)

    def forward(self, task: Any, response: Any, info: Any, **kwargs: Any) -> tuple[Any, str]:
        """``(score, feedback)`` for ``response`` to ``task`` given ``info``: Trace's name,
        calling :meth:`get_feedback`; keyword arguments are passed on."""
        return self.get_feedback(task, response, info, **kwargs)

    def get_feedback(
        self, query: Any, response: Any, reference: Any = None, **kwargs: Any
    ) -> tuple[Any, str]:
        """What a guide defines: ``(score, feedback)`` for the model's ``response`` to
        ``query``, knowing the expected ``reference`` (None when there is none). The score
        is a number, or a dict of numbers for several objectives."""
        raise NotImplementedError(f"{type(self).__name__} must define get_feedback()")

    def metric(self, query: Any, response: Any, reference: Any = None, **kwargs: Any) -> Any:
        """The score alone (a number, or a dict for several objectives) of ``response`` to
        ``query`` against ``reference``."""
        return self.get_feedback(query, response, reference, **kwargs)[0]

    def get_score_dict(
        self, query: Any, response: Any, reference: Any = None, **kwargs: Any
    ) -> dict[str, float]:
        """The score of ``response`` to ``query`` against ``reference`` as
        ``{metric: value}``; a plain number becomes ``{"score": value}``."""
        return to_score_dict(self.metric(query, response, reference, **kwargs))

    def copy(self) -> Guide:
        """A deep copy, except that LLM clients are shared (they are thread-safe)."""
        shared = {id(v): v for v in vars(self).values() if isinstance(v, BaseLLM)}
        return copy.deepcopy(self, shared)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the guide's JSON-representable settings to the file ``path`` (clients and
        functions are left out); returns the path written."""
        state = {}
        for key, value in vars(self).items():
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                continue
            state[key] = value
        document = {"format": "opto.guide/1", "class": type(self).__qualname__, "state": state}
        return atomic_write_json(path, document)

    def load(self, path: str | os.PathLike) -> None:
        """Set the settings :meth:`save` wrote to ``path`` on this guide (clients and
        functions stay as they are)."""
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(document, dict) or document.get("format") != "opto.guide/1":
            raise ValueError(f"{path} is not an opto guide file")
        vars(self).update(document["state"])


AutoGuide = Guide


class MetricGuide(Guide):
    """A guide made from a plain metric function.

    ``metric(response, reference)`` or ``metric(query, response, reference)`` returns a number,
    a bool, a dict of numbers, or ``(score, feedback)``. Without feedback from the metric, the
    text comes from ``feedback(query, response, reference, score)`` if given, else says whether
    the response reached ``correct_at`` and shows the expected answer.
    """

    def __init__(
        self,
        metric: Callable[..., Any],
        feedback: Callable[[Any, Any, Any, Any], str] | None = None,
        correct_at: float = 1.0,
    ) -> None:
        if not callable(metric):
            raise TypeError(f"metric must be a function, got {type(metric).__name__}")
        self.metric_fn = metric
        self.feedback_fn = feedback
        self.correct_at = correct_at
        self._takes_query = _positional_count(metric) != 2

    def get_feedback(
        self, query: Any, response: Any, reference: Any = None, **kwargs: Any
    ) -> tuple[Any, str]:
        """``(score, feedback)``: the metric applied to ``response`` and ``reference`` (and
        ``query`` when it takes three arguments); see the class docstring for the feedback."""
        if self._takes_query:
            result = self.metric_fn(query, response, reference)
        else:
            result = self.metric_fn(response, reference)
        if isinstance(result, tuple) and len(result) == 2:
            return result
        if self.feedback_fn is not None:
            return result, self.feedback_fn(query, response, reference, result)
        return result, self._default_feedback(response, reference, result)

    def _default_feedback(self, response: Any, reference: Any, score: Any) -> str:
        values = to_score_dict(score).values()
        if min(values) >= self.correct_at:
            return "Correct."
        shown = ", ".join(f"{k}={v:.3g}" for k, v in to_score_dict(score).items())
        return (
            f"Incorrect ({shown}). Expected {render_repr(reference)}, got {render_repr(response)}."
        )


def as_guide(guide: Any, **kwargs: Any) -> Guide:
    """``guide`` itself if it is a ``Guide``, else a ``MetricGuide`` around the metric function.

    Args:
        guide: a ``Guide``, or a function of ``(response, reference)`` or
            ``(query, response, reference)`` as ``MetricGuide`` takes.
        **kwargs: ``MetricGuide``'s other arguments (for a function only).
    """
    if isinstance(guide, Guide):
        return guide
    if callable(guide) and not isinstance(guide, type):
        return MetricGuide(guide, **kwargs)
    raise TypeError(f"a guide must be a Guide or a metric function, got {guide!r}")


class ExactMatchGuide(MetricGuide):
    """Score 1 when the response equals the reference."""

    def __init__(self) -> None:
        super().__init__(exact_match_metric)


def _positional_count(function: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 3
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return 3
    return sum(1 for p in parameters if p.kind in kinds)


JUDGE_NEEDS_A_MODEL = (
    "LLMJudge (the guide train() uses when no guide= is given) asks an LLM whether each answer "
    "is right, but it has no model and none is configured.\n"
    "Score with a metric instead, e.g. train(..., guide=lambda question, answer, info: "
    "float(answer == info)): a function of (response, reference) or (query, response, "
    "reference) returning a number, a dict of numbers or (score, feedback); or "
    "guide='ExactMatchGuide'.\n"
    "Or give the judge a model: guide_kwargs={'model': 'gpt-4o-mini'}, guide=LLMJudge(llm=...), "
    "or configure one for every client:\n" + NOT_CONFIGURED_HELP
)


class LLMJudge(Guide):
    """An LLM compares the response with the reference: score 1 when it says it is correct.

    The judge is asked to answer with ``correctness_template`` (``"Correct [TERMINATE]"``) when
    the response is right, otherwise ``"Incorrect"`` followed by advice; the reply is the
    feedback (with the query, response and reference in front if ``use_formatted_response``).

    ``model`` names the judging model (default: the configured one) unless ``llm``, a client,
    is given. ``prompt_template`` is the question put to the judge, with ``{query}``,
    ``{response}``, ``{reference}``, ``{correctness_template}`` and
    ``{incorrectness_template}`` fields; ``system_prompt`` its system message. Other keyword
    arguments go with every call (``temperature``, ``max_tokens``, ...).
    """

    DEFAULT_CORRECTNESS_TEMPLATE = "Correct [TERMINATE]"
    DEFAULT_INCORRECTNESS_TEMPLATE = "Incorrect"
    DEFAULT_SYSTEM_PROMPT = "You are a careful teacher who gives specific, constructive feedback."
    DEFAULT_PROMPT_TEMPLATE = (
        "Query: {query}\n\nStudent's answer: {response}\n\nCorrect answer: {reference}\n\n"
        "Think about whether the student's answer is correct, that is, whether it agrees with "
        "the correct answer. If it is correct, say {correctness_template}. If it is not, say "
        "{incorrectness_template} and then give the student feedback that is specific and "
        "actionable."
    )

    def __init__(
        self,
        model: str | None = None,
        llm: Any = None,
        prompt_template: str | None = None,
        system_prompt: str | None = None,
        correctness_template: str | None = None,
        use_formatted_response: bool = False,
        **call_kwargs: Any,
    ) -> None:
        self.model = model
        self._llm = llm
        self.prompt_template = prompt_template or self.DEFAULT_PROMPT_TEMPLATE
        self.system_prompt = system_prompt or self.DEFAULT_SYSTEM_PROMPT
        self.correctness_template = correctness_template or self.DEFAULT_CORRECTNESS_TEMPLATE
        self.use_formatted_response = use_formatted_response
        self.call_kwargs = call_kwargs

    @property
    def llm(self) -> Any:
        """The client; the default one is made on first use (building needs no configuration)."""
        if self._llm is None:
            from opto.llm import LLM

            self.require_model()
            self._llm = LLM(self.model)
        return self._llm

    @llm.setter
    def llm(self, value: Any) -> None:
        self._llm = value

    def require_model(self) -> None:
        """Raise `LLMNotConfiguredError`, saying how to pass a metric instead, when this judge
        has no client, no model and no LLM is configured (``train`` checks before it starts)."""
        if self._llm is None and self.model is None and not is_configured():
            raise LLMNotConfiguredError(JUDGE_NEEDS_A_MODEL)

    def get_feedback(
        self, query: Any, response: Any, reference: Any = None, **kwargs: Any
    ) -> tuple[float, str]:
        """Ask the judge whether ``response`` to ``query`` agrees with ``reference``: score 1.0
        if its reply contains the correctness template, else 0.0; the reply is the feedback.
        A missing ``reference`` is an error (the judge has nothing to compare with)."""
        if reference is None:
            raise ValueError("LLMJudge needs the reference answer (the example's info)")
        prompt = self.prompt_template.format(
            query=_formattable(query),
            response=_formattable(response),
            reference=_formattable(reference),
            correctness_template=self.correctness_template,
            incorrectness_template=self.DEFAULT_INCORRECTNESS_TEMPLATE,
        )
        messages = [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": prompt},
        ]
        reply = self.llm(messages=messages, **self.call_kwargs)
        text = reply.choices[0].message.content if hasattr(reply, "choices") else str(reply)
        text = text or ""
        score = 1.0 if self.correctness_template in text else 0.0
        if self.use_formatted_response:
            query, response, reference = map(render_text, (query, response, reference))
            text = (
                f"Query: {query}\nStudent's answer: {response}\nCorrect answer: {reference}\n"
                f"Judge's feedback:\n{text}"
            )
        return score, text


def _formattable(value: Any) -> Any:
    """``value`` for ``str.format``: strings and small numbers as they are (so format specs
    in a user template still apply), anything else as its bounded text."""
    if isinstance(value, (str, float)) or (isinstance(value, int) and value.bit_length() <= 10_000):
        return value
    return render_text(value)
