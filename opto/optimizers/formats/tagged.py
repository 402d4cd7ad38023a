"""OptoPrimeV2's format (Trace 0.2): ``# Section`` titles, values in tags, tagged reply.

Section titles and tag names come from a symbol set: the optimizer's
(``optimizer_prompt_symbol_set``, OptoPrimeV2's) or the format's own; ``initialize`` fills
the templates with them. Values of non-variable nodes are cut at ``initial_var_char_limit``
characters. An optimizer with tag-aware hooks (OptoPrimeV2's ``repr_node_value`` and
``repr_node_value_compact``) renders values through them, so its overrides apply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from opto.optimizers.formats.base import PromptFormat
from opto.optimizers.function_feedback import (
    FunctionFeedback,
    code_text,
    documentation_text,
    section_text,
)
from opto.optimizers.parsing import ParsedReply, parse_json_reply, parse_xml_reply
from opto.optimizers.prompts import fill_pieces
from opto.optimizers.prompts import optoprime as v1_templates
from opto.optimizers.prompts import optoprime_v2 as templates
from opto.optimizers.symbol_sets import OptimizerPromptSymbolSet
from opto.optimizers.tagged_problem import (
    MemoryInstance,
    ProblemInstance,
    tag_names,
    tagged_entries,
    titles,
)
from opto.optimizers.utils import truncate_expression


class TaggedFormat(PromptFormat):
    """OptoPrimeV2's format: ``<variable><name>..</name><value>..</value></variable>`` replies
    (or JSON with ``OptimizerPromptSymbolSetJSON``).

    Args:
        symbol_set: section titles and tag names, used when the optimizer has no
            ``optimizer_prompt_symbol_set`` of its own (default ``OptimizerPromptSymbolSet()``).
        initial_var_char_limit: where values of non-variable nodes are cut, when the optimizer
            has no ``initial_var_char_limit`` of its own (0: never).
    """

    pieces = MappingProxyType(
        {
            "representation_prompt": templates.REPRESENTATION_TEMPLATE,
            "output_format_prompt_template": templates.OUTPUT_FORMAT_TEMPLATE,
            "default_objective": templates.DEFAULT_OBJECTIVE_TEMPLATE,
            "user_prompt_template": templates.USER_PROMPT_TEMPLATE,
            "example_problem_template": templates.EXAMPLE_PROBLEM_TEMPLATE,
            "example_prompt": templates.EXAMPLE_PROMPT,
            "final_prompt": templates.FINAL_PROMPT,
        }
    )

    def __init__(
        self, symbol_set: OptimizerPromptSymbolSet | None = None, initial_var_char_limit: int = 2000
    ) -> None:
        self.symbol_set = symbol_set or self.default_symbol_set()
        self.initial_var_char_limit = initial_var_char_limit

    def default_symbol_set(self) -> OptimizerPromptSymbolSet:
        """The format's own symbol set when none is given (a subclass picks its own)."""
        return OptimizerPromptSymbolSet()

    def symbols(self, optimizer: Any) -> Any:
        """The optimizer's symbol set, else the format's."""
        return getattr(optimizer, "optimizer_prompt_symbol_set", None) or self.symbol_set

    def reply_label(self, optimizer: Any) -> str:
        """``"JSON"`` or ``"tag"``, as ``optimizer``'s symbol set asks, for repair requests."""
        return "JSON" if self.expects_json(optimizer) else "tag"

    def initialize(self, optimizer: Any) -> None:
        """Fill the templates with the symbol set (the optimizer's filled prompts)."""
        s = self.symbols(optimizer)
        compact = titles(s, spaced=False)
        expression = templates.VARIABLE_EXPRESSION_FORMAT.format(**tag_names(s))
        optimizer.representation_prompt = self.template(optimizer, "representation_prompt").format(
            **compact, **tag_names(s), variable_expression_format=expression
        )
        optimizer.output_format_prompt = self.piece(
            optimizer, "output_format_prompt_template"
        ).format(**compact, **tag_names(s), output_format=s.output_format)

    def default_objective(self, optimizer: Any) -> str:
        """The format's objective filled with the symbol set, or the optimizer class's own."""
        if self.template(optimizer, "default_objective") is self.pieces["default_objective"]:
            s = self.symbols(optimizer)
            return self.pieces["default_objective"].format(**titles(s), **tag_names(s))
        return optimizer.default_objective

    def entries(self, optimizer: Any, nodes: Mapping[str, Any], tag: str, compact: bool) -> str:
        """Tag blocks of ``nodes`` (values cut when ``compact``), through the optimizer's
        tag-aware hooks when it has them."""
        s = self.symbols(optimizer)
        tags = {"node_tag": tag, "value_tag": s.value_tag, "constraint_tag": s.constraint_tag}
        if hasattr(type(optimizer), "repr_node_value_compact"):
            hook = optimizer.repr_node_value_compact if compact else optimizer.repr_node_value
            return hook(nodes, **tags)
        limit = getattr(optimizer, "initial_var_char_limit", self.initial_var_char_limit)
        shorten = (lambda text: truncate_expression(text, limit)) if compact and limit else None
        return tagged_entries(
            nodes, tag, s.value_tag, s.constraint_tag, tag == s.variable_tag, shorten
        )

    def default_prompt_symbols(self, optimizer: Any) -> Mapping[str, str]:
        """Section key -> title of ``optimizer``'s symbol set (else the format's), so the
        optimizer's ``prompt_symbols`` hold the titles this format shows."""
        return self.symbols(optimizer).default_prompt_symbols

    def expects_json(self, optimizer: Any) -> bool:
        """True only for a JSON symbol set of ``optimizer`` (``OptimizerPromptSymbolSetJSON``)."""
        return bool(self.symbols(optimizer).expect_json)

    # -- the prompt ------------------------------------------------------------------------

    def system_prompt(self, optimizer: Any) -> str:
        """``optimizer``'s filled ``representation_prompt`` + ``output_format_prompt``."""
        return optimizer.representation_prompt + optimizer.output_format_prompt

    def user_prompt(
        self, optimizer: Any, summary: FunctionFeedback, mask: Sequence[str] | None
    ) -> str:
        """For ``optimizer``'s step: the example (if ``include_example``), the problem block
        of ``summary`` (``mask``: sections left empty), memory, then the request naming the
        variables."""
        pieces = [self.example(optimizer)] if optimizer.include_example else []
        pieces += fill_pieces(
            self.piece(optimizer, "user_prompt_template"),
            problem_instance=optimizer.problem_text(summary, mask),
        )
        pieces.append(optimizer.memory_text())
        final = self.piece(optimizer, "final_prompt")
        pieces.append(final.format(names=", ".join(summary.variables)))
        return "".join(pieces)

    def problem_instance(
        self, optimizer: Any, summary: FunctionFeedback, mask: Sequence[str] | None
    ) -> ProblemInstance:
        """The sections of ``summary`` in tags, values through ``optimizer``'s hooks (see
        ``entries``); a section whose title (or ``#Name``) is in ``mask`` is empty."""
        s = self.symbols(optimizer)
        masked = set(mask or ())
        omitted = getattr(summary, "omitted", None) or {}

        def section(key: str, render: Any) -> str:
            title = getattr(s, f"{key}_section_title")
            hidden = title in masked or v1_templates.SECTIONS[key] in masked
            return section_text(hidden, render, omitted.get(key))

        def compact(nodes: Mapping[str, Any]) -> str:
            return self.entries(optimizer, nodes, s.node_tag, compact=True)

        def variables() -> str:
            return self.entries(optimizer, summary.variables, s.variable_tag, compact=False)

        feedback = summary.user_feedback
        return ProblemInstance(
            instruction=section("instruction", lambda: optimizer.objective),
            code=section("code", lambda: code_text(summary)),
            documentation=section("documentation", lambda: documentation_text(summary)),
            variables=section("variables", variables),
            inputs=section("inputs", lambda: compact(summary.inputs)),
            others=section("others", lambda: compact(summary.others)),
            outputs=section("outputs", lambda: compact(summary.output)),
            feedback=section("feedback", lambda: "" if feedback is None else str(feedback)),
            optimizer_prompt_symbol_set=s,
        )

    def memory_text(self, optimizer: Any) -> str:
        """Each past round of ``optimizer.memory``, numbered, its values in tags (code keeps
        its indentation); "" while it is empty."""
        if not len(optimizer.memory):
            return ""
        rounds = [
            str(
                MemoryInstance(
                    {name: (value, None) for name, value in entry["variables"].items()},
                    entry["feedback"],
                    self.symbols(optimizer),
                    index=index,
                )
            )
            for index, entry in enumerate(optimizer.memory, start=1)
        ]
        return templates.MEMORY_LEAD + "\n".join(rounds) + "\n\n"

    def example(self, optimizer: Any) -> str:
        """A small worked example rendered by ``optimizer``'s own hooks and answered in its
        symbol set's reply format, so it shows exactly the format asked for."""
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
            optimizer.problem_instance(example), instruction=self.default_objective(optimizer)
        )
        reply = self.symbols(optimizer).example_output(
            v1_templates.EXAMPLE_REPLY["reasoning"], {"a": 14}
        )
        one = self.piece(optimizer, "example_problem_template").format(
            example_problem=str(problem), example_response=reply
        )
        return self.piece(optimizer, "example_prompt").format(examples=one)

    # -- the reply -------------------------------------------------------------------------

    def parse(self, optimizer: Any, reply: str) -> ParsedReply:
        """The ``reply`` read with the tags of ``optimizer``'s symbol set (as JSON for a
        JSON set); never raises."""
        s = self.symbols(optimizer)
        if s.expect_json:
            return parse_json_reply(reply)
        return parse_xml_reply(
            reply,
            reasoning_tag=s.reasoning_tag,
            variable_tag=s.improved_variable_tag,
            name_tag=s.name_tag,
            value_tag=s.value_tag,
        )

    def extract(self, optimizer: Any, reply: str, **options: Any) -> dict[str, Any]:
        """``{"reasoning": str, "variables": {name: value}}`` of the text ``reply``, read by
        the ``output_response_extractor`` of ``optimizer``'s symbol set (``options`` unused)."""
        return self.symbols(optimizer).output_response_extractor(reply)

    def suggested_values(self, optimizer: Any, reply: str) -> Mapping[str, Any]:
        return optimizer.extract_llm_suggestion(reply).get("variables") or {}
