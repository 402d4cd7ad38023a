"""OPRO and OPROv2: optimization by prompting with solutions and their feedback only.

Neither shows the computation graph: OPRO lists past values with their feedback (the OPRO
paper's history, bounded here by ``memory_size``), OPROv2 shows the current solution and its
feedback in tags. Parsing, safe updates and logging are OptoPrime's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from opto.optimizers.optoprime import OptoPrime
from opto.optimizers.optoprime_v2 import OptoPrimeV2
from opto.optimizers.parsing import ParsedReply, parse_xml_reply
from opto.optimizers.problem import ProblemInstance, render_value, type_label
from opto.optimizers.prompts import opro as templates
from opto.optimizers.prompts.optoprime import SEPARATOR
from opto.trace.nodes import ParameterNode


class OPRO(OptoPrime):
    """Shows past variable values and their feedback, newest last; asks for new values."""

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *args: Any,
        memory_size: int = 20,
        objective: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            parameters,
            llm,
            *args,
            memory_size=memory_size,
            objective=objective or templates.OPRO_OBJECTIVE,
            **kwargs,
        )

    def system_prompt(self) -> str:
        return templates.OPRO_SYSTEM

    def construct_prompt(
        self, problem: ProblemInstance, mask: Sequence[str] | None = None
    ) -> tuple[str, str]:
        current = {
            "variables": {name: node._data for name, node in problem.variables.items()},
            "feedback": problem.feedback,
        }
        history = [*self.memory, current][-max(self.memory.size, 1) :]
        entries = "\n".join(json.dumps(entry, indent=4, default=str) for entry in history)
        user = (
            templates.OPRO_HISTORY_LEAD
            + entries
            + f"\n\n{SEPARATOR}\n\n{problem.instruction}\n\nYour response:\n"
        )
        return self.system_prompt(), user


class OPROv2(OptoPrimeV2):
    """OPRO for black-box problems in OptoPrimeV2's tag format: context, solution, feedback."""

    solution_tag = "solution"

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *args: Any,
        memory_size: int = 5,
        objective: str | None = None,
        include_example: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            parameters,
            llm,
            *args,
            memory_size=memory_size,
            objective=objective or templates.OPROV2_OBJECTIVE,
            include_example=include_example,
            **kwargs,
        )

    def system_prompt(self) -> str:
        s = self.symbols
        return templates.OPROV2_SYSTEM.format(
            tag=self.solution_tag, value=s.value_tag, reasoning=s.reasoning_tag, name=s.name_tag
        )

    def problem_text(
        self,
        problem: ProblemInstance,
        mask: Sequence[str] | None = None,
        values: dict[str, str] | None = None,
        omitted: dict[str, str] | None = None,
    ) -> str:
        s = self.symbols
        solutions = "\n".join(
            f'<{self.solution_tag} name="{name}" type="{type_label(node)}">\n'
            f"<{s.value_tag}>\n{render_value(node._data)}\n</{s.value_tag}>\n</{self.solution_tag}>\n"
            for name, node in problem.variables.items()
        )
        return (
            f"# Problem Context\n{problem.instruction}\n\n"
            f"# Solution\n{solutions}\n\n# Feedback\n{problem.feedback}"
        )

    def construct_prompt(
        self, problem: ProblemInstance, mask: Sequence[str] | None = None
    ) -> tuple[str, str]:
        block = self.problem_text(problem, mask)
        names = ", ".join(problem.variables)
        user = (
            "\nNow you see problem instance:\n\n"
            f"{SEPARATOR}\n\n{block}\n\n{SEPARATOR}\n\n"
            + self.memory_text()
            + f"What are your revised solutions on {names}?\n\nYour response:\n"
        )
        return self.system_prompt(), user

    def _parse(self, reply: str) -> ParsedReply:
        s = self.symbols
        for tag in (self.solution_tag, s.improved_variable_tag):
            parsed = parse_xml_reply(
                reply,
                reasoning_tag=s.reasoning_tag,
                variable_tag=tag,
                name_tag=s.name_tag,
                value_tag=s.value_tag,
            )
            if parsed.suggestion or parsed.terminate:
                return parsed
        return parsed
