"""OPROv2: OPRO for black-box problems in OptoPrimeV2's tag format (Trace 0.2), as a preset:
the OptoPrime core with ``OproTaggedFormat`` (``opto.optimizers.formats``).

The problem is only the context (the objective), the current solution and its feedback. Unlike
Trace's, the sections have the same names in the system and the user prompt, each part of the
solution keeps its description, and the reply is asked in the tag the solution is shown in
(``<solution>``; ``<variable>`` is read too).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opto.optimizers.formats import OproTaggedFormat, PromptFormat
from opto.optimizers.formats.opro import OPROPromptSymbolSet, ProblemInstance
from opto.optimizers.optoprime_v2 import OptoPrimeV2
from opto.optimizers.prompts import opro as templates
from opto.optimizers.symbol_sets import OptimizerPromptSymbolSet
from opto.trace.nodes import ParameterNode

__all__ = [
    "OPROPromptSymbolSet",
    "OPROv2",
    "OptimizerPromptSymbolSet",
    "OptoPrimeV2",
    "ProblemInstance",
]


class OPROv2(OptoPrimeV2):
    """Shows context, solution and feedback in tags; asks for revised solutions.

    Arguments: ``parameters`` to train; ``llm`` (default ``LLM()``, made at the first step);
    ``optimizer_prompt_symbol_set`` (section titles and tag names, default
    ``OPROPromptSymbolSet()``: ``# Problem Context``, ``# Solution``, ``<solution>``);
    ``include_example`` (default False: no worked example before the problem);
    ``memory_size`` (default 5: past solutions with their feedback shown). Every other
    keyword argument is OptoPrimeV2's.
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
        """OPROv2's titles and tags, used when no ``optimizer_prompt_symbol_set`` is given."""
        return OPROPromptSymbolSet()

    def default_prompt_format(self) -> PromptFormat:
        return OproTaggedFormat()
