"""Trace's OptoPrime format: ``#Section`` markers, values as ``(type) name=value``, JSON reply.

The text comes from the optimizer's prompt pieces (``representation_prompt``,
``output_format_prompt``, ``user_prompt_template``, ``final_prompt``, ...), its
``prompt_symbols`` and ``json_keys``, and the hooks Trace users override
(``repr_node_value``, ``repr_node_constraint``, ``replace_symbols``, ``problem_instance``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from opto.optimizers.formats.base import (
    DEFAULT_OUTPUT_FORMAT,
    PromptFormat,
    SuggestionExtractionError,
)
from opto.optimizers.function_feedback import (
    FunctionFeedback,
    ProblemInstance,
    code_text,
    documentation_text,
    section_text,
)
from opto.optimizers.parsing import ParsedReply, parse_json_reply
from opto.optimizers.problem import render_value
from opto.optimizers.prompts import fill, fill_pieces
from opto.optimizers.prompts import optoprime as templates
from opto.utils.rendering import render_json


class TraceJsonFormat(PromptFormat):
    """OptoPrime's format (Trace 0.1): JSON reply ``{reasoning, answer, suggestion}``."""

    def initialize(self, optimizer: Any) -> None:
        """Fill ``optimizer.output_format_prompt`` with its ``json_keys`` (the variant without
        an answer when ``json_keys["answer"]`` is None), unless its class set its own."""
        if type(optimizer).output_format_prompt != DEFAULT_OUTPUT_FORMAT:
            return
        keys = {key: value for key, value in optimizer.json_keys.items() if value is not None}
        if optimizer.json_keys.get("answer") is None:
            optimizer.output_format_prompt = optimizer.output_format_prompt_no_answer.format(**keys)
        else:
            optimizer.output_format_prompt = optimizer.output_format_prompt_original.format(**keys)

    # -- the prompt ------------------------------------------------------------------------

    def system_prompt(self, optimizer: Any) -> str:
        """``optimizer``'s ``representation_prompt`` + ``output_format_prompt``, with its
        ``prompt_symbols`` as section markers."""
        return optimizer.replace_symbols(
            optimizer.representation_prompt + optimizer.output_format_prompt,
            optimizer.prompt_symbols,
        )

    def user_prompt(
        self, optimizer: Any, summary: FunctionFeedback, mask: Sequence[str] | None
    ) -> str:
        """The example (if ``optimizer.include_example``), the problem block of ``summary``
        (``mask``: sections left empty), memory, then Trace's final request (naming the
        variables when ``optimizer.highlight_variables``)."""
        template = optimizer.replace_symbols(
            optimizer.user_prompt_template, optimizer.prompt_symbols
        )
        pieces = [self.example(optimizer)] if optimizer.include_example else []
        pieces += fill_pieces(template, problem_instance=optimizer.problem_text(summary, mask))
        pieces.append(optimizer.memory_text())
        if optimizer.highlight_variables:
            names = ", ".join(summary.variables)
            pieces.append(optimizer.final_prompt_with_variables.format(names=names))
        else:
            pieces.append(optimizer.final_prompt)
        return "".join(pieces)

    def problem_instance(
        self, optimizer: Any, summary: FunctionFeedback, mask: Sequence[str] | None
    ) -> ProblemInstance:
        """Trace's nine sections of ``summary``, values by ``optimizer.repr_node_value``; a
        section whose default marker (``"#Code"``) or ``optimizer``'s own marker is in
        ``mask`` is empty, and one the token budget shortened carries its note."""
        masked = set(mask or ())
        omitted = getattr(summary, "omitted", None) or {}
        symbols = optimizer.prompt_symbols

        def section(key: str, render: Any) -> str:
            hidden = templates.SECTIONS[key] in masked or symbols.get(key) in masked
            return section_text(hidden, render, omitted.get(key))

        def values(nodes: Mapping[str, Any]) -> Any:
            return lambda: optimizer.repr_node_value(nodes)

        feedback = summary.user_feedback
        return ProblemInstance(
            instruction=section(
                "instruction", lambda: optimizer.replace_symbols(optimizer.objective, symbols)
            ),
            code=section("code", lambda: code_text(summary)),
            documentation=section("documentation", lambda: documentation_text(summary)),
            variables=section("variables", values(summary.variables)),
            constraints=section(
                "constraints", lambda: optimizer.repr_node_constraint(summary.variables)
            ),
            inputs=section("inputs", values(summary.inputs)),
            others=section("others", values(summary.others)),
            outputs=section("outputs", values(summary.output)),
            feedback=section(
                "feedback", lambda: "" if feedback is None else render_value(feedback)
            ),
        )

    def render_problem(self, optimizer: Any, instance: ProblemInstance) -> str:
        """``str(instance)`` with the optimizer's section markers (values are not rewritten)."""
        defaults = optimizer.default_prompt_symbols
        if all(optimizer.prompt_symbols.get(k) == v for k, v in defaults.items()):
            return str(instance)
        template = optimizer.replace_symbols(instance.problem_template, optimizer.prompt_symbols)
        return fill(template, **{f.name: getattr(instance, f.name) for f in fields(instance)})

    def memory_text(self, optimizer: Any) -> str:
        """``optimizer.memory`` as one JSON object per past round (variables and feedback),
        oldest first; "" while it is empty."""
        if not len(optimizer.memory):
            return ""
        entries = "\n".join(render_json(entry) for entry in optimizer.memory)
        return templates.MEMORY_LEAD + entries + "\n\n"

    def example(self, optimizer: Any) -> str:
        """Trace's worked example, its reply written with ``optimizer``'s ``json_keys`` and
        the problem with its ``prompt_symbols``, so it matches the format asked for."""
        keys = optimizer.json_keys
        reply = {keys["reasoning"]: templates.EXAMPLE_REPLY["reasoning"]}
        if keys.get("answer") is not None:
            reply[keys["answer"]] = templates.EXAMPLE_REPLY["answer"]
        reply[keys["suggestion"]] = templates.EXAMPLE_REPLY["suggestion"]
        problem = optimizer.replace_symbols(templates.EXAMPLE_PROBLEM, optimizer.prompt_symbols)
        example = optimizer.example_problem_template.format(
            example_problem=problem, example_response=json.dumps(reply, indent=4)
        )
        return optimizer.example_prompt.format(examples=example)

    # -- the reply -------------------------------------------------------------------------

    def parse(self, optimizer: Any, reply: str) -> ParsedReply:
        """The JSON ``reply`` read with ``optimizer.json_keys`` (never raises)."""
        keys = optimizer.json_keys
        return parse_json_reply(
            reply,
            reasoning_key=keys["reasoning"],
            answer_key=keys.get("answer"),
            suggestion_key=keys["suggestion"],
        )

    def extract(self, optimizer: Any, reply: str, **options: Any) -> dict[str, Any]:
        """Trace's ``extract_llm_suggestion`` of ``optimizer`` for the text ``reply``:
        ``{name: value}``, or with ``return_only_suggestion=False`` ``{"reasoning": ...,
        "variables": {...}}``; the options are those of ``OptoPrime.extract_llm_suggestion``."""
        keys = optimizer.json_keys
        parsed = parse_json_reply(
            reply,
            reasoning_key=options.get("reasoning_tag") or keys["reasoning"],
            answer_key=keys.get("answer"),
            suggestion_key=options.get("suggestion_tag") or keys["suggestion"],
        )
        suggestion = dict(parsed.suggestion)
        if (
            not suggestion
            and not parsed.terminate
            and options.get("ignore_extraction_error") is False
        ):
            raise SuggestionExtractionError(
                f"no suggestion could be extracted: {parsed.error or 'the reply has none'}"
            )
        if options.get("return_only_suggestion", True):
            return suggestion
        return {"reasoning": parsed.reasoning or "", "variables": suggestion}
