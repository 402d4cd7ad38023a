"""Feedback writers that return text only (Trace's ``opto.trainer.suggest``).

They predate guides: ``get_feedback(...)`` returns a feedback string, not ``(score,
feedback)``. ``SimpleReferenceSuggest`` compares with the reference answer, ``ReferenceSuggest``
asks an LLM to compare, ``KeywordSuggest`` answers with the advice listed for keywords found in
the output (for example in an error log).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opto.utils.user_warnings import warn_user

__all__ = ["KeywordSuggest", "ReferenceSuggest", "SimpleReferenceSuggest", "Suggest"]

SEPARATOR = "\n" + "-" * 37 + "\n"


class Suggest:
    """Base class: ``get_feedback(query, content, reference=None) -> str``.

    A suggest writes feedback only, no score: advice on an output, for optimizers that learn
    from text.
    """

    def get_feedback(self, query: Any, content: Any, reference: Any = None, **kwargs: Any) -> str:
        """Feedback on ``content``, the output for the input ``query``, knowing the expected
        ``reference`` (None when there is none); subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} must define get_feedback()")


class SimpleReferenceSuggest(Suggest):
    """``"Correct"`` for a score of 1, ``"Incorrect"`` for 0, otherwise the answer set
    against the correct one. Arguments are accepted for compatibility and not used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def get_feedback(
        self, query: Any, content: Any, reference: Any = None, score: Any = None, **kwargs: Any
    ) -> str:
        """``"Correct"``/``"Incorrect"`` by ``score`` (1 or 0); for any other score,
        ``query``, ``content`` and ``reference`` set side by side."""
        if score == 1:
            return "Correct"
        if score == 0:
            return "Incorrect"
        return f"For the query {query!r} the answer was {content!r}; the correct answer is {reference!r}."


class ReferenceSuggest(Suggest):
    """An LLM compares the answer with the reference and says what to change.

    Args:
        model: the model name for the default client.
        llm: the client (default: ``opto.llm.LLM(model)``, made on first use).
        prompt_template: placeholders ``{query}``, ``{content}``, ``{reference}``.
        system_prompt: the system message.
        correctness_template: returned without an LLM call when the score is 1.
    """

    DEFAULT_CORRECTNESS_TEMPLATE = "Correct [TERMINATE]"
    DEFAULT_SYSTEM_PROMPT = "You are a teacher who explains clearly what to improve in an answer."
    DEFAULT_PROMPT_TEMPLATE = (
        "Query: {query}\n\nAnswer given: {content}\n\nCorrect answer: {reference}\n\n"
        "Explain what is wrong with the answer given and how to arrive at the correct one. "
        "Be specific and actionable."
    )

    def __init__(
        self,
        model: str | None = None,
        llm: Any = None,
        prompt_template: str | None = None,
        system_prompt: str | None = None,
        correctness_template: str | None = None,
    ) -> None:
        self.model = model
        self._llm = llm
        self.prompt_template = prompt_template or self.DEFAULT_PROMPT_TEMPLATE
        self.system_prompt = system_prompt or self.DEFAULT_SYSTEM_PROMPT
        self.correctness_template = correctness_template or self.DEFAULT_CORRECTNESS_TEMPLATE

    @property
    def llm(self) -> Any:
        """The client that writes the advice; the default one is made on first use."""
        if self._llm is None:
            from opto.llm import LLM

            self._llm = LLM(self.model)
        return self._llm

    def get_feedback(
        self, query: Any, content: Any, reference: Any = None, score: Any = None, **kwargs: Any
    ) -> str:
        """The LLM's advice on ``content`` (the answer to ``query``) given the correct
        ``reference``, after a restatement of the case (no call when ``score == 1``)."""
        if reference is None:
            raise ValueError("ReferenceSuggest requires reference information to generate feedback")
        if score == 1:
            return self.correctness_template
        prompt = self.prompt_template.format(query=query, content=content, reference=reference)
        reply = self.llm(
            messages=[
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": prompt},
            ]
        )
        text = reply.choices[0].message.content if hasattr(reply, "choices") else str(reply)
        header = (
            f"The query was: {query}. The answer given was: {content}. The correct answer is: "
            f"{reference}.{SEPARATOR}Advice on the next answer (follow it first):\n"
        )
        return header + (text or "")


class KeywordSuggest(Suggest):
    """Advice for keywords found in the output, plus what custom analyzers say.

    Args:
        json_file: a JSON file ``{keyword: advice}``.
        keyword_response: the same table as a dict (give one of the two).
        custom_analyzers: functions ``(content, reference_log) -> str``; non-empty results are
            added to the feedback.
        **kwargs: accepted as in Trace, and ignored with a warning.
    """

    def __init__(
        self,
        json_file: str | os.PathLike | None = None,
        keyword_response: dict[str, str] | None = None,
        custom_analyzers: list[Callable[[Any, Any], str]] | None = None,
        **kwargs: Any,
    ) -> None:
        if json_file is not None and keyword_response is not None:
            raise ValueError("Cannot provide both json_file and keyword_response")
        if kwargs:
            warn_user(f"KeywordSuggest ignores {sorted(kwargs)}")
        if json_file is not None:
            keyword_response = json.loads(Path(json_file).read_text(encoding="utf-8"))
        table = keyword_response or {}
        if not isinstance(table, dict) or not all(isinstance(k, str) for k in table):
            raise TypeError("the keyword table must map keywords (str) to advice")
        self.keyword_response = {k: str(v) for k, v in table.items()}
        self.custom_analyzers = list(custom_analyzers or [])

    def add_analyzer(self, analyzer_func: Callable[[Any, Any], str]) -> None:
        """Add ``analyzer_func``, a function ``(content, reference_log) -> str``, to those
        consulted for every feedback."""
        self.custom_analyzers.append(analyzer_func)

    def match(self, log_content: Any) -> str:
        """The advice of every keyword that occurs in ``log_content``, one per line."""
        text = str(log_content)
        return "\n".join(
            advice for keyword, advice in self.keyword_response.items() if keyword in text
        )

    def run_custom_analyzers(self, content: Any, reference_log: Any) -> list[str]:
        """What the analyzers say about ``content`` given ``reference_log`` (empty results
        left out)."""
        results = (analyzer(content, reference_log) for analyzer in self.custom_analyzers)
        return [result for result in results if result]

    def get_feedback(
        self, task: Any, content: Any, info: Any = None, reward: Any = None, **kwargs: Any
    ) -> str:
        """The task, the output, the raw information and the advice found, in sections.

        ``task`` is the input, ``content`` the output; ``info`` (the log or other reference
        information) is required; ``reward`` is not used.
        """
        if info is None:
            raise ValueError(
                "KeywordSuggest requires reference information (info) to give feedback"
            )
        advice = [a for a in [self.match(info), *self.run_custom_analyzers(content, info)] if a]
        sections = [
            f"Task:\n{task}",
            f"Generated content:\n{content}",
            f"Raw information:\n{info}",
            "Advice:\n" + ("\n".join(advice) if advice else "(no known issue found)"),
        ]
        return SEPARATOR.join(sections)
