"""OptoPrimeV2: OptoPrime with the problem and the reply in XML-like tags (Trace 0.2).

Everything but the text format is OptoPrime's: the same problem building, safe updates,
refusal notes, repair, log and token budget. Names of sections and tags come from a symbol set
(``optimizer_prompt_symbol_set``); ``initialize_prompt()`` fills the class-level templates with
them. Values of non-variable nodes are cut at ``initial_var_char_limit`` characters; memory
keeps code indentation (Trace 0.2 lost it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opto.optimizers.function_feedback import (
    FunctionFeedback,
    code_text,
    documentation_text,
    section_text,
)
from opto.optimizers.optoprime import OptoPrime
from opto.optimizers.parsing import ParsedReply, parse_json_reply, parse_xml_reply
from opto.optimizers.prompts import fill_pieces
from opto.optimizers.prompts import optoprime as v1_templates
from opto.optimizers.prompts import optoprime_v2 as templates
from opto.optimizers.step_support import repair_request
from opto.optimizers.symbol_sets import (
    OptimizerPromptSymbolSet,
    OptimizerPromptSymbolSet2,
    OptimizerPromptSymbolSetJSON,
)
from opto.optimizers.tagged_problem import (
    MemoryInstance,
    ProblemInstance,
    tag_names,
    tagged_entries,
    titles,
)
from opto.optimizers.utils import extract_xml_like_data, truncate_expression
from opto.trace.nodes import ParameterNode

__all__ = [
    "MemoryInstance",
    "OptimizerPromptSymbolSet",
    "OptimizerPromptSymbolSet2",
    "OptimizerPromptSymbolSetJSON",
    "OptoPrimeV2",
    "ProblemInstance",
    "extract_xml_like_data",
    "truncate_expression",
]


class SymbolTemplate:
    """A class attribute that is a template on the class and filled with the instance's symbol
    set on an instance, so ``optimizer.default_objective`` reads as a finished sentence."""

    def __init__(self, template: str) -> None:
        self.template = template

    def __get__(self, instance: Any, owner: type) -> str:
        symbols = None if instance is None else instance.__dict__.get("optimizer_prompt_symbol_set")
        if symbols is None:
            return self.template
        return self.template.format(**titles(symbols), **tag_names(symbols))


class OptoPrimeV2(OptoPrime):
    """OptoPrime speaking XML tags (``<variable><name>...</name><value>...</value>``).

    Takes OptoPrime's arguments (``parameters``, ``llm``, ...; see ``help(OptoPrime)``) and:
    ``max_tokens``, the reply limit (default 8192, as replies restate whole values);
    ``initial_var_char_limit``, the characters of each value shown in the compact sections
    (inputs, others, outputs; 0 or None shows them whole); ``optimizer_prompt_symbol_set``,
    the tags and section titles of the prompt and the reply (default
    ``OptimizerPromptSymbolSet()``; ``OptimizerPromptSymbolSetJSON()`` asks for JSON);
    ``truncate_expression``, the function ``(text, limit) -> str`` that shortens values.
    """

    representation_prompt = templates.REPRESENTATION_TEMPLATE
    output_format_prompt_template = templates.OUTPUT_FORMAT_TEMPLATE
    default_objective = SymbolTemplate(templates.DEFAULT_OBJECTIVE_TEMPLATE)
    user_prompt_template = templates.USER_PROMPT_TEMPLATE
    example_problem_template = templates.EXAMPLE_PROBLEM_TEMPLATE
    example_prompt = templates.EXAMPLE_PROMPT
    final_prompt = templates.FINAL_PROMPT

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *args: Any,
        max_tokens: int = 8192,
        initial_var_char_limit: int = 2000,
        optimizer_prompt_symbol_set: OptimizerPromptSymbolSet | None = None,
        truncate_expression: Callable[[Any, int], str] = truncate_expression,
        **kwargs: Any,
    ) -> None:
        symbols = optimizer_prompt_symbol_set or self.default_symbol_set()
        self.optimizer_prompt_symbol_set = symbols
        self.default_prompt_symbols = symbols.default_prompt_symbols
        super().__init__(parameters, llm, *args, max_tokens=max_tokens, **kwargs)
        self.initial_var_char_limit = initial_var_char_limit
        self.truncate_expression = truncate_expression
        self.use_json_object_format = symbols.expect_json and self.use_json_object_format
        self.initialize_prompt()

    def default_symbol_set(self) -> OptimizerPromptSymbolSet:
        """The symbol set used when none is given."""
        return OptimizerPromptSymbolSet()

    def initialize_prompt(self) -> None:
        """Fill the class-level templates with the symbol set (call again after changing it)."""
        s = self.optimizer_prompt_symbol_set
        compact = titles(s, spaced=False)
        expression = templates.VARIABLE_EXPRESSION_FORMAT.format(**tag_names(s))
        self.representation_prompt = type(self).representation_prompt.format(
            **compact, **tag_names(s), variable_expression_format=expression
        )
        self.output_format_prompt = self.output_format_prompt_template.format(
            **compact, **tag_names(s), output_format=s.output_format
        )

    # -- problem ---------------------------------------------------------------------------

    def repr_node_value(
        self,
        node_dict: Mapping[str, Any],
        node_tag: str = "node",
        value_tag: str = "value",
        constraint_tag: str = "constraint",
    ) -> str:
        """Tag blocks with full values (the #Variables section): one ``node_tag`` block per
        entry of ``node_dict`` (name -> (value, description)) with the value in a
        ``value_tag`` and, for variables, the description in a ``constraint_tag``."""
        with_constraints = node_tag == self.optimizer_prompt_symbol_set.variable_tag
        return tagged_entries(node_dict, node_tag, value_tag, constraint_tag, with_constraints)

    def repr_node_value_compact(
        self,
        node_dict: Mapping[str, Any],
        node_tag: str = "node",
        value_tag: str = "value",
        constraint_tag: str = "constraint",
    ) -> str:
        """Tag blocks with values cut at ``initial_var_char_limit`` characters; ``node_dict``,
        ``node_tag``, ``value_tag`` and ``constraint_tag`` as for :meth:`repr_node_value`."""
        with_constraints = node_tag == self.optimizer_prompt_symbol_set.variable_tag
        limit = self.initial_var_char_limit
        shorten = (lambda text: self.truncate_expression(text, limit)) if limit else None
        return tagged_entries(
            node_dict, node_tag, value_tag, constraint_tag, with_constraints, shorten
        )

    def problem_instance(
        self, summary: FunctionFeedback, mask: Sequence[str] | None = None
    ) -> ProblemInstance:
        """The sections of ``summary`` in tags; a section whose title (or ``#Name``) is in
        ``mask`` is empty."""
        s = self.optimizer_prompt_symbol_set
        masked = set(mask or ())
        omitted = getattr(summary, "omitted", None) or {}

        def section(key: str, render: Any) -> str:
            title = getattr(s, f"{key}_section_title")
            hidden = title in masked or v1_templates.SECTIONS[key] in masked
            return section_text(hidden, render, omitted.get(key))

        def compact(nodes: Mapping[str, Any]) -> str:
            return self.repr_node_value_compact(
                nodes, node_tag=s.node_tag, value_tag=s.value_tag, constraint_tag=s.constraint_tag
            )

        feedback = summary.user_feedback
        return ProblemInstance(
            instruction=section("instruction", lambda: self.objective),
            code=section("code", lambda: code_text(summary)),
            documentation=section("documentation", lambda: documentation_text(summary)),
            variables=section(
                "variables",
                lambda: self.repr_node_value(
                    summary.variables,
                    node_tag=s.variable_tag,
                    value_tag=s.value_tag,
                    constraint_tag=s.constraint_tag,
                ),
            ),
            inputs=section("inputs", lambda: compact(summary.inputs)),
            others=section("others", lambda: compact(summary.others)),
            outputs=section("outputs", lambda: compact(summary.output)),
            feedback=section("feedback", lambda: "" if feedback is None else str(feedback)),
            optimizer_prompt_symbol_set=s,
        )

    def render_problem(self, instance: Any) -> str:
        return str(instance)

    # -- prompt ----------------------------------------------------------------------------

    def construct_prompt(
        self,
        summary: FunctionFeedback,
        mask: Sequence[str] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[str, str]:
        """``(system prompt, user prompt)`` for ``summary`` (sections in ``mask`` left
        empty); the user prompt ends asking for the variables."""
        system_prompt = self.representation_prompt + self.output_format_prompt
        pieces = [self._example()] if self.include_example else []
        pieces += fill_pieces(
            self.user_prompt_template, problem_instance=self._problem_text(summary, mask)
        )
        pieces.append(self.memory_text())
        pieces.append(self.final_prompt.format(names=", ".join(summary.variables)))
        return system_prompt, "".join(pieces)

    def memory_text(self) -> str:
        if not len(self.memory):
            return ""
        rounds = [
            str(
                MemoryInstance(
                    {name: (value, None) for name, value in entry["variables"].items()},
                    entry["feedback"],
                    self.optimizer_prompt_symbol_set,
                    index=index,
                )
            )
            for index, entry in enumerate(self.memory, start=1)
        ]
        return templates.MEMORY_LEAD + "\n".join(rounds) + "\n\n"

    def _example(self) -> str:
        example = FunctionFeedback(
            graph=[(1, "y = add(x=a, y=b)"), (2, "z = subtract(x=y, y=c)")],
            documentation={"add": "Sum: x + y.", "subtract": "Difference: x - y."},
            others={"y": (6, None)},
            roots={},
            output={"z": (1, None)},
            user_feedback="The result should be 10, but it is 1.",
            variables={"a": (5, "a > 0")},
            inputs={"b": (1, None), "c": (5, None)},
        )
        problem = dataclasses.replace(
            self.problem_instance(example), instruction=self.default_objective
        )
        reply = self.optimizer_prompt_symbol_set.example_output(
            v1_templates.EXAMPLE_REPLY["reasoning"], {"a": 14}
        )
        one = self.example_problem_template.format(
            example_problem=str(problem), example_response=reply
        )
        return self.example_prompt.format(examples=one)

    # -- reply -----------------------------------------------------------------------------

    def _parse(self, reply: str) -> ParsedReply:
        s = self.optimizer_prompt_symbol_set
        if s.expect_json:
            return parse_json_reply(reply)
        return parse_xml_reply(
            reply,
            reasoning_tag=s.reasoning_tag,
            variable_tag=s.improved_variable_tag,
            name_tag=s.name_tag,
            value_tag=s.value_tag,
        )

    def extract_llm_suggestion(self, response: str) -> dict[str, Any]:  # type: ignore[override]
        """``{"reasoning": str, "variables": {name: value}}`` read from the reply ``response``
        (the symbol set reads it, so a JSON symbol set reads JSON)."""
        return self.optimizer_prompt_symbol_set.output_response_extractor(response)

    def _suggested_values(self, reply: str) -> Mapping[str, Any]:
        extracted = self.extract_llm_suggestion(reply)
        return extracted.get("variables") or {}

    def _repair_request(self, parsed: ParsedReply, suggestion: Any, plan: Any) -> str:
        reply_format = "JSON" if self.optimizer_prompt_symbol_set.expect_json else "tag"
        return repair_request(parsed, suggestion, plan, reply_format)
