"""OPROv2: OPRO for black-box problems in OptoPrimeV2's tag format (Trace 0.2).

The problem is only the context (the objective), the current solution and its feedback. Unlike
Trace's, the sections have the same names in the system and the user prompt, each part of the
solution keeps its description, and the reply is asked in the tag the solution is shown in
(``<solution>``; ``<variable>`` is read too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from opto.optimizers.function_feedback import FunctionFeedback, section_text
from opto.optimizers.optoprime_v2 import OptoPrimeV2
from opto.optimizers.prompts import opro as templates
from opto.optimizers.symbol_sets import OptimizerPromptSymbolSet
from opto.optimizers.tagged_problem import tag_names
from opto.optimizers.utils import extract_xml_like_data
from opto.trace.nodes import ParameterNode
from opto.utils.rendering import render_text

__all__ = [
    "OPROPromptSymbolSet",
    "OPROv2",
    "OptimizerPromptSymbolSet",
    "OptoPrimeV2",
    "ProblemInstance",
]


class OPROPromptSymbolSet(OptimizerPromptSymbolSet):
    """OPROv2's names: ``# Problem Context``, ``# Solution``, ``# Feedback``; ``<solution>``."""

    problem_context_section_title = "# Problem Context"
    variable_section_title = "# Solution"
    feedback_section_title = "# Feedback"
    variable_tag = "solution"
    improved_variable_tag = "solution"

    @property
    def default_prompt_symbols(self) -> dict[str, str]:
        return {
            "variables": self.variable_section_title,
            "feedback": self.feedback_section_title,
            "instruction": self.problem_context_section_title,
        }

    def section_titles(self) -> dict[str, str]:
        """The three titles, by their placeholder names."""
        return {
            "problem_context_section_title": self.problem_context_section_title,
            "variable_section_title": self.variable_section_title,
            "feedback_section_title": self.feedback_section_title,
        }

    def output_response_extractor(self, response: str) -> dict[str, Any]:
        """Reads the reply ``response``: ``<solution>`` blocks, or ``<variable>`` blocks when
        there are none (models often keep the usual tag)."""
        found = super().output_response_extractor(response)
        if found["variables"] or self.improved_variable_tag == "variable":
            return found
        fallback = extract_xml_like_data(
            response,
            reasoning_tag=self.reasoning_tag,
            improved_variable_tag="variable",
            name_tag=self.name_tag,
            value_tag=self.value_tag,
        )
        return fallback if fallback["variables"] else found


@dataclass(repr=False)
class ProblemInstance:
    """OPROv2's problem: context, solution and feedback; ``str()`` adds the set's titles.

    ``instruction`` is the problem context (the objective), ``variables`` the rendered
    solution, ``feedback`` the feedback text; ``optimizer_prompt_symbol_set`` supplies the
    section titles.
    """

    instruction: str
    variables: str
    feedback: str
    optimizer_prompt_symbol_set: OPROPromptSymbolSet

    problem_template: ClassVar[str] = templates.OPROV2_PROBLEM_TEMPLATE

    def __repr__(self) -> str:
        return self.problem_template.format(
            instruction=self.instruction,
            variables=self.variables,
            feedback=self.feedback,
            **_titles_of(self.optimizer_prompt_symbol_set),
        )

    __str__ = __repr__


class OPROv2(OptoPrimeV2):
    """Shows context, solution and feedback in tags; asks for revised solutions.

    Takes OptoPrimeV2's arguments (``parameters``, ``llm``, ...; see ``help(OptoPrimeV2)``)
    with other defaults: ``optimizer_prompt_symbol_set`` is an ``OPROPromptSymbolSet``
    (``<solution>`` tags), ``include_example`` False, ``memory_size`` 5 past rounds shown.
    """

    representation_prompt = templates.OPROV2_REPRESENTATION
    output_format_prompt_template = templates.OPROV2_OUTPUT_FORMAT
    final_prompt = templates.OPROV2_FINAL_PROMPT
    default_objective = templates.OPROV2_OBJECTIVE

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *args: Any,
        optimizer_prompt_symbol_set: OPROPromptSymbolSet | None = None,
        include_example: bool = False,
        memory_size: int = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            parameters,
            llm,
            *args,
            optimizer_prompt_symbol_set=optimizer_prompt_symbol_set,
            include_example=include_example,
            memory_size=memory_size,
            **kwargs,
        )

    def default_symbol_set(self) -> OPROPromptSymbolSet:
        return OPROPromptSymbolSet()

    def initialize_prompt(self) -> None:
        s = self.optimizer_prompt_symbol_set
        names = {**_titles_of(s), **tag_names(s)}
        self.representation_prompt = type(self).representation_prompt.format(**names)
        self.output_format_prompt = self.output_format_prompt_template.format(
            **names, output_format=s.output_format
        )

    def problem_instance(  # type: ignore[override]
        self, summary: FunctionFeedback, mask: Sequence[str] | None = None
    ) -> ProblemInstance:
        """Context, solution (with descriptions) and feedback of ``summary``; a section whose
        title is in ``mask`` is left empty."""
        s = self.optimizer_prompt_symbol_set
        masked = set(mask or ())
        titles = _titles_of(s)

        def section(title: str, render: Any) -> str:
            return section_text(titles[title] in masked, render)

        def solution(nodes: Mapping[str, Any]) -> str:
            return self.repr_node_value_compact(
                nodes,
                node_tag=s.variable_tag,
                value_tag=s.value_tag,
                constraint_tag=s.constraint_tag,
            )

        feedback = summary.user_feedback
        return ProblemInstance(
            instruction=section("problem_context_section_title", lambda: self.objective),
            variables=section("variable_section_title", lambda: solution(summary.variables)),
            feedback=section(
                "feedback_section_title", lambda: "" if feedback is None else render_text(feedback)
            ),
            optimizer_prompt_symbol_set=s,
        )


def _titles_of(symbols: OptimizerPromptSymbolSet) -> dict[str, str]:
    """OPRO titles of a set (a plain OptimizerPromptSymbolSet gets OPRO's defaults)."""
    if isinstance(symbols, OPROPromptSymbolSet):
        return symbols.section_titles()
    return OPROPromptSymbolSet().section_titles()
