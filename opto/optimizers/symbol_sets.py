"""The names OptoPrimeV2 uses in its prompts and expects in replies (Trace 0.2's symbol sets).

A symbol set holds section titles and tag names as class attributes, so a variant is a
subclass that changes a few of them; an instance may also take keyword overrides
(``OptimizerPromptSymbolSet(variable_tag="param")``). It also knows its reply format: the
skeleton shown to the LLM (``output_format``), an example reply (``example_output``) and how
to read a reply (``output_response_extractor``).
"""

from __future__ import annotations

import json
from typing import Any

from opto.optimizers.parsing import parse_json_reply
from opto.optimizers.prompts import optoprime_v2 as templates
from opto.optimizers.utils import extract_xml_like_data

SECTION_KEYS = (
    "instruction",
    "code",
    "documentation",
    "variables",
    "inputs",
    "others",
    "outputs",
    "feedback",
)


class OptimizerPromptSymbolSet:
    """Section titles and tag names of OptoPrimeV2's XML-like format."""

    instruction_section_title = "# Instruction"
    code_section_title = "# Code"
    documentation_section_title = "# Documentation"
    variables_section_title = "# Variables"
    inputs_section_title = "# Inputs"
    others_section_title = "# Others"
    outputs_section_title = "# Outputs"
    feedback_section_title = "# Feedback"

    node_tag = "node"
    variable_tag = "variable"
    value_tag = "value"
    constraint_tag = "constraint"
    reasoning_tag = "reasoning"
    improved_variable_tag = "variable"
    name_tag = "name"

    expect_json = False
    custom_output_format_instruction: str | None = None

    def __init__(self, **overrides: Any) -> None:
        for name, value in overrides.items():
            if name.startswith("_") or not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} has no symbol named {name!r}")
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @property
    def default_prompt_symbols(self) -> dict[str, str]:
        """Section key -> title (the keys of OptoPrime's ``prompt_symbols``, no constraints)."""
        return {key: getattr(self, f"{key}_section_title") for key in SECTION_KEYS}

    @property
    def output_format(self) -> str:
        """The reply skeleton shown in the system prompt."""
        if self.custom_output_format_instruction is not None:
            return self.custom_output_format_instruction.strip()
        return templates.XML_OUTPUT_FORMAT.format(
            reasoning_tag=self.reasoning_tag,
            improved_variable_tag=self.improved_variable_tag,
            name_tag=self.name_tag,
            value_tag=self.value_tag,
        )

    def example_output(self, reasoning: str, variables: dict[str, Any]) -> str:
        """A reply in this set's format suggesting ``variables`` (name -> value), for the
        worked example (no reasoning block when ``reasoning`` is empty)."""
        if self.custom_output_format_instruction is not None:
            raise NotImplementedError(
                "a symbol set with a custom output format must define example_output"
            )
        parts = []
        if reasoning != "":
            parts.append(f"<{self.reasoning_tag}>\n{reasoning}\n</{self.reasoning_tag}>")
        for name, value in variables.items():
            parts.append(
                f"<{self.improved_variable_tag}>\n<{self.name_tag}>{name}</{self.name_tag}>\n"
                f"<{self.value_tag}>\n{value}\n</{self.value_tag}>\n</{self.improved_variable_tag}>"
            )
        return "\n".join(parts)

    def output_response_extractor(self, response: str) -> dict[str, Any]:
        """``{"reasoning": str, "variables": {name: value}}`` read from the reply ``response``."""
        if self.custom_output_format_instruction is not None:
            raise NotImplementedError(
                "a symbol set with a custom output format must define output_response_extractor"
            )
        return extract_xml_like_data(
            response,
            reasoning_tag=self.reasoning_tag,
            improved_variable_tag=self.improved_variable_tag,
            name_tag=self.name_tag,
            value_tag=self.value_tag,
        )


class OptimizerPromptSymbolSet2(OptimizerPromptSymbolSet):
    """Shorter tag names: ``var``/``data`` for variables, ``const`` for other nodes, ``reason``."""

    node_tag = "const"
    variable_tag = "var"
    value_tag = "data"
    reasoning_tag = "reason"
    improved_variable_tag = "var"


class OptimizerPromptSymbolSetJSON(OptimizerPromptSymbolSet):
    """The problem in tags, the reply in JSON (``reasoning`` and ``suggestion``)."""

    expect_json = True
    custom_output_format_instruction = templates.JSON_OUTPUT_FORMAT

    def example_output(self, reasoning: str, variables: dict[str, Any]) -> str:
        """A JSON reply with ``reasoning`` and the suggested ``variables`` (name -> value)."""
        return json.dumps({"reasoning": reasoning, "suggestion": dict(variables)}, indent=2)

    def output_response_extractor(
        self, response: str, suggestion_tag: str = "suggestion"
    ) -> dict[str, Any]:
        """``{"reasoning": str, "variables": {name: value}}`` read from the JSON reply
        ``response``, the values under the key ``suggestion_tag``."""
        parsed = parse_json_reply(response, suggestion_key=suggestion_tag)
        return {"reasoning": parsed.reasoning or "", "variables": dict(parsed.suggestion)}
