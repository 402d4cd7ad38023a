"""OPRO's formats: the history of values and feedback (``OproFormat``), and the black-box
problem in tags (``OproTaggedFormat``, with its symbol set and problem instance)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from opto.optimizers.formats.tagged import TaggedFormat
from opto.optimizers.formats.trace_json import TraceJsonFormat
from opto.optimizers.function_feedback import FunctionFeedback, section_text
from opto.optimizers.prompts import opro as templates
from opto.optimizers.symbol_sets import OptimizerPromptSymbolSet
from opto.optimizers.tagged_problem import tag_names
from opto.optimizers.utils import extract_xml_like_data
from opto.utils.rendering import render_json, render_text


class OproFormat(TraceJsonFormat):
    """No graph: past values of the variables with their feedback, newest last, then the
    objective; the system prompt is OPRO's output format alone."""

    pieces = MappingProxyType(
        {
            "user_prompt_template": templates.OPRO_USER_TEMPLATE,
            "output_format_prompt": templates.OPRO_OUTPUT_FORMAT,
            "default_objective": templates.OPRO_OBJECTIVE,
        }
    )

    def initialize(self, optimizer: Any) -> None:
        """Nothing to fill on ``optimizer``: OPRO's output format names its keys itself."""

    def system_prompt(self, optimizer: Any) -> str:
        """OPRO's output format alone (``optimizer``'s ``output_format_prompt`` piece): with
        no graph there is nothing for a representation prompt to explain."""
        return self.piece(optimizer, "output_format_prompt")

    def user_prompt(
        self, optimizer: Any, summary: FunctionFeedback, mask: Sequence[str] | None
    ) -> str:
        """``optimizer``'s memory plus the current values and feedback of ``summary`` (at
        most ``memory_size`` rounds, oldest first), then its objective; ``mask`` does not
        apply (there are no sections)."""
        current = {
            "variables": {name: entry[0] for name, entry in summary.variables.items()},
            "feedback": summary.user_feedback,
        }
        history = [*optimizer.memory, current][-max(optimizer.memory.size, 1) :]
        examples = "\n".join(render_json(entry) for entry in history)
        template = self.piece(optimizer, "user_prompt_template")
        user = template.format(examples=examples, instruction=optimizer.objective)
        return user + self.piece(optimizer, "final_prompt")


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
        """``{"reasoning", "variables"}`` of the reply text ``response``: its ``<solution>``
        blocks, or its ``<variable>`` blocks when there are none (a reply may fall back
        to OptoPrimeV2's generic tag)."""
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


def titles_of(symbols: OptimizerPromptSymbolSet) -> dict[str, str]:
    """The three OPRO section titles of ``symbols``, by placeholder name (a plain
    OptimizerPromptSymbolSet has none, so it gets OPRO's defaults)."""
    if isinstance(symbols, OPROPromptSymbolSet):
        return symbols.section_titles()
    return OPROPromptSymbolSet().section_titles()


@dataclass(repr=False)
class ProblemInstance:
    """OPROv2's problem: context, solution and feedback; ``str()`` adds the set's titles.

    Each field is a section's text (an empty one leaves the section empty): ``instruction``
    (the problem context, i.e. the objective), ``variables`` (the solution in tags) and
    ``feedback``; ``optimizer_prompt_symbol_set`` supplies the section titles.
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
            **titles_of(self.optimizer_prompt_symbol_set),
        )

    __str__ = __repr__


class OproTaggedFormat(TaggedFormat):
    """OPROv2: context, solution (with descriptions) and feedback in tags.

    Args:
        symbol_set: used when the optimizer has none (default ``OPROPromptSymbolSet()``).
        initial_var_char_limit: as for ``TaggedFormat``.
    """

    pieces = MappingProxyType(
        {
            **TaggedFormat.pieces,
            "representation_prompt": templates.OPROV2_REPRESENTATION,
            "output_format_prompt_template": templates.OPROV2_OUTPUT_FORMAT,
            "final_prompt": templates.OPROV2_FINAL_PROMPT,
            "default_objective": templates.OPROV2_OBJECTIVE,
        }
    )

    def default_symbol_set(self) -> OptimizerPromptSymbolSet:
        """``OPROPromptSymbolSet()``: OPRO's titles and the ``<solution>`` tag."""
        return OPROPromptSymbolSet()

    def initialize(self, optimizer: Any) -> None:
        s = self.symbols(optimizer)
        names = {**titles_of(s), **tag_names(s)}
        representation = self.template(optimizer, "representation_prompt")
        optimizer.representation_prompt = representation.format(**names)
        optimizer.output_format_prompt = self.piece(
            optimizer, "output_format_prompt_template"
        ).format(**names, output_format=s.output_format)

    def problem_instance(
        self, optimizer: Any, summary: FunctionFeedback, mask: Sequence[str] | None
    ) -> ProblemInstance:
        """Context (``optimizer.objective``), solution (the variables of ``summary``, with
        descriptions) and feedback; a section whose title is in ``mask`` is empty."""
        s = self.symbols(optimizer)
        masked = set(mask or ())
        titles = titles_of(s)

        def section(title: str, render: Any) -> str:
            return section_text(titles[title] in masked, render)

        def solution(nodes: Mapping[str, Any]) -> str:
            return self.entries(optimizer, nodes, s.variable_tag, compact=True)

        feedback = summary.user_feedback
        return ProblemInstance(
            instruction=section("problem_context_section_title", lambda: optimizer.objective),
            variables=section("variable_section_title", lambda: solution(summary.variables)),
            feedback=section(
                "feedback_section_title", lambda: "" if feedback is None else render_text(feedback)
            ),
            optimizer_prompt_symbol_set=s,
        )
