"""OptoPrimeV2's problem and memory in XML-like tags (Trace 0.2's ``ProblemInstance`` and
``MemoryInstance`` of ``opto.optimizers.optoprime_v2``), rendered with a symbol set's names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from opto.optimizers.function_feedback import entry_text, entry_type
from opto.optimizers.problem import render_value
from opto.optimizers.prompts import optoprime_v2 as templates
from opto.optimizers.symbol_sets import SECTION_KEYS, OptimizerPromptSymbolSet


def titles(symbols: OptimizerPromptSymbolSet, *, spaced: bool = True) -> dict[str, str]:
    """``{"<key>_section_title": title}`` of the symbol set ``symbols``; ``spaced=False``
    removes the spaces, for the system prompt (Trace writes ``#Variables`` there and
    ``# Variables`` in the problem)."""
    found = {
        f"{key}_section_title": getattr(symbols, f"{key}_section_title") for key in SECTION_KEYS
    }
    return found if spaced else {name: title.replace(" ", "") for name, title in found.items()}


def tag_names(symbols: OptimizerPromptSymbolSet) -> dict[str, str]:
    """Every ``*_tag`` name of the symbol set ``symbols``, with its tag."""
    return {name: getattr(symbols, name) for name in dir(symbols) if name.endswith("_tag")}


def tagged_entries(
    node_dict: Mapping[str, Any],
    node_tag: str,
    value_tag: str,
    constraint_tag: str,
    with_constraints: bool,
    shorten: Callable[[str], str] | None = None,
) -> str:
    """One ``<node_tag name=.. type=..>`` block per entry of ``node_dict`` (name -> entry), a
    blank line between blocks, the value in a ``<value_tag>`` block.

    A description is shown in a ``<constraint_tag>`` block when ``with_constraints``;
    ``shorten`` cuts long values.
    """
    pieces: list[str] = []
    for name, entry in node_dict.items():
        value = entry_text(entry)
        if shorten is not None:
            value = shorten(value)
        if pieces:
            pieces.append("\n")
        pieces += (
            f'<{node_tag} name="{name}" type="{entry_type(name, entry)}">\n<{value_tag}>\n',
            value,
            f"\n</{value_tag}>\n",
        )
        if with_constraints and entry[1] is not None:
            pieces.append(f"<{constraint_tag}>\n{entry[1]}\n</{constraint_tag}>\n")
        pieces.append(f"</{node_tag}>\n")
    return "".join(pieces)


@dataclass(repr=False)
class ProblemInstance:
    """The rendered sections of OptoPrimeV2's problem; ``str()`` adds the set's titles.

    Each of ``instruction``, ``code``, ``documentation``, ``variables``, ``inputs``,
    ``others``, ``outputs`` and ``feedback`` is a section's text; the section titles come
    from ``optimizer_prompt_symbol_set``.
    """

    instruction: str
    code: str
    documentation: str
    variables: str
    inputs: str
    others: str
    outputs: str
    feedback: str
    optimizer_prompt_symbol_set: OptimizerPromptSymbolSet

    problem_template: ClassVar[str] = templates.PROBLEM_TEMPLATE

    def __repr__(self) -> str:
        sections = {key: getattr(self, key) for key in SECTION_KEYS}
        return self.problem_template.format(**sections, **titles(self.optimizer_prompt_symbol_set))

    __str__ = __repr__


class MemoryInstance:
    """One past round for OptoPrimeV2's memory: the variables' values and the feedback.

    ``variables`` maps a name to ``(value, description)``, as a summary's sections do. Values
    keep their indentation (Trace 0.2 lost the indentation of code here).
    ``optimizer_prompt_symbol_set`` supplies the tags; ``index`` numbers the round in the
    prompt (None: unnumbered).
    """

    memory_example_template: ClassVar[str] = templates.MEMORY_TEMPLATE

    def __init__(
        self,
        variables: Mapping[str, Any],
        feedback: Any,
        optimizer_prompt_symbol_set: OptimizerPromptSymbolSet,
        index: int | None = None,
    ) -> None:
        self.variables = dict(variables)
        self.feedback = feedback
        self.optimizer_prompt_symbol_set = optimizer_prompt_symbol_set
        self.index = index

    def __str__(self) -> str:
        s = self.optimizer_prompt_symbol_set
        blocks = []
        for name, (value, _description) in self.variables.items():
            blocks.append(
                f"<{s.improved_variable_tag}><{s.name_tag}>{name}</{s.name_tag}>"
                f"<{s.value_tag}>\n{render_value(value)}\n</{s.value_tag}></{s.improved_variable_tag}>"
            )
        return self.memory_example_template.format(
            index="" if self.index is None else f" {self.index}",
            variables="\n".join(blocks),
            feedback=self.feedback,
        )

    __repr__ = __str__
