"""OptoPrimeV2: OptoPrime with the problem and the reply in XML-like tags (Trace 0.2).

Everything but the text format is OptoPrime's: the same problem building, safe updates,
refusal notes, repair, log and token budget. Values of non-variable nodes are cut at
``initial_var_char_limit`` characters; memory keeps code indentation (Trace 0.2 lost it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from opto.optimizers.optoprime import OptoPrime
from opto.optimizers.parsing import ParsedReply, parse_json_reply, parse_xml_reply
from opto.optimizers.problem import ProblemInstance, render_value, type_label
from opto.optimizers.prompts import optoprime_v2 as templates
from opto.optimizers.prompts.optoprime_v2 import OptimizerPromptSymbolSet
from opto.trace.nodes import Node, ParameterNode


class OptoPrimeV2(OptoPrime):
    """OptoPrime speaking XML tags (``<variable><name>...</name><value>...</value>``)."""

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *args: Any,
        max_tokens: int = 8192,
        initial_var_char_limit: int = 2000,
        optimizer_prompt_symbol_set: OptimizerPromptSymbolSet | None = None,
        objective: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            parameters,
            llm,
            *args,
            max_tokens=max_tokens,
            objective=objective or templates.DEFAULT_OBJECTIVE,
            **kwargs,
        )
        self.symbols = optimizer_prompt_symbol_set or OptimizerPromptSymbolSet()
        self.initial_var_char_limit = initial_var_char_limit
        self.use_json_object_format = self.symbols.expect_json and self.use_json_object_format

    # -- prompt ----------------------------------------------------------------------------

    def system_prompt(self) -> str:
        s = self.symbols
        introduction = templates.INTRODUCTION.format(
            variable=s.variable_tag, value=s.value_tag, constraint=s.constraint_tag
        )
        if s.expect_json:
            return introduction + templates.JSON_OUTPUT.format()
        return introduction + templates.XML_OUTPUT.format(
            reasoning=s.reasoning_tag,
            improved=s.improved_variable_tag,
            name=s.name_tag,
            value=s.value_tag,
        )

    def problem_text(
        self,
        problem: ProblemInstance,
        mask: Sequence[str] | None = None,
        values: dict[str, str] | None = None,
        omitted: dict[str, str] | None = None,
    ) -> str:
        s, values, omitted, masked = self.symbols, values or {}, omitted or {}, set(mask or ())
        sections = [
            ("instruction", s.instruction_section_title, problem.instruction),
            ("code", s.code_section_title, "\n".join(problem.code)),
            (
                "documentation",
                s.documentation_section_title,
                "\n".join(problem.documentation.values()),
            ),
            (
                "variables",
                s.variables_section_title,
                "\n".join(map(self._variable, problem.variables.values())),
            ),
            ("inputs", s.inputs_section_title, self._nodes(problem.inputs, values)),
            ("others", s.others_section_title, self._nodes(problem.others, values)),
            ("outputs", s.outputs_section_title, self._nodes(problem.outputs, values)),
            ("feedback", s.feedback_section_title, problem.feedback),
        ]
        blocks = []
        for key, title, content in sections:
            if title in masked:
                content = ""
            if omitted.get(key):
                content = f"{content}\n{omitted[key]}" if content else omitted[key]
            blocks.append(f"{title}\n{content}")
        return "\n\n".join(blocks)

    def _variable(self, node: Node) -> str:
        s = self.symbols
        text = (
            f'<{s.variable_tag} name="{node.py_name}" type="{type_label(node)}">\n'
            f"<{s.value_tag}>\n{render_value(node._data)}\n</{s.value_tag}>\n"
        )
        if node.description is not None:
            text += f"<{s.constraint_tag}>\n{node.description}\n</{s.constraint_tag}>\n"
        return text + f"</{s.variable_tag}>\n"

    def _nodes(self, section: dict[str, Node], values: dict[str, str]) -> str:
        s, limit = self.symbols, self.initial_var_char_limit
        entries = []
        for name, node in section.items():
            value = values.get(name) or render_value(node._data)
            if limit and len(value) > limit:
                value = value[:limit] + templates.TRUNCATED
            entries.append(
                f'<{s.node_tag} name="{name}" type="{type_label(node)}">\n'
                f"<{s.value_tag}>\n{value}\n</{s.value_tag}>\n</{s.node_tag}>\n"
            )
        return "\n".join(entries)

    def construct_prompt(
        self, problem: ProblemInstance, mask: Sequence[str] | None = None
    ) -> tuple[str, str]:
        system, user = super().construct_prompt(problem, mask)
        if not self.highlight_variables:
            ending = f"What are your suggestions on variables {', '.join(problem.variables)}?\n\n"
            user = user.removesuffix("\nYour response:\n") + ending + "Your response:\n"
        return system, user

    def memory_text(self) -> str:
        if not len(self.memory):
            return ""
        s = self.symbols
        rounds = []
        for index, entry in enumerate(self.memory, start=1):
            lines = [f"<round {index}>"]
            for name, value in entry["variables"].items():
                lines.append(
                    f"<{s.variable_tag}><{s.name_tag}>{name}</{s.name_tag}>"
                    f"<{s.value_tag}>\n{render_value(value)}\n</{s.value_tag}></{s.variable_tag}>"
                )
            lines.append(f"<feedback>{entry['feedback']}</feedback>")
            lines.append(f"</round {index}>")
            rounds.append("\n".join(lines))
        return templates.MEMORY_LEAD + "\n".join(rounds) + "\n\n"

    def _example(self) -> str:
        return ""

    # -- reply -----------------------------------------------------------------------------

    def _parse(self, reply: str) -> ParsedReply:
        s = self.symbols
        if s.expect_json:
            return parse_json_reply(reply)
        return parse_xml_reply(
            reply,
            reasoning_tag=s.reasoning_tag,
            variable_tag=s.improved_variable_tag,
            name_tag=s.name_tag,
            value_tag=s.value_tag,
        )

    def _repair_request(self, parsed: ParsedReply, plan: Any) -> str:
        text = super()._repair_request(parsed, plan)
        return text if self.symbols.expect_json else text.replace("JSON format", "tag format")
