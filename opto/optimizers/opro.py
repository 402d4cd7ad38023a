"""OPRO: optimization by prompting with the history of values and their feedback, as a preset.

The OptoPrime core with ``OproFormat`` (``opto.optimizers.formats``): no computation graph,
the user prompt lists past values of the variables with the feedback each received (the OPRO
paper's history, bounded here by ``memory_size``), then the objective. Parsing, safe updates
and logging are OptoPrime's; the system prompt is OPRO's own output format (Trace 0.2 sent
OptoPrime's by mistake).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opto.optimizers.formats import OproFormat, PromptFormat
from opto.optimizers.optoprime import OptoPrime
from opto.optimizers.prompts import opro as templates
from opto.trace.nodes import ParameterNode


class OPRO(OptoPrime):
    """Shows past variable values and their feedback, newest last; asks for new values.

    Arguments: ``parameters`` to train; ``llm`` (default ``LLM()``, made at the first step);
    ``memory_size`` (default 20): how many rounds of values and feedback the prompt lists,
    the current one included; the OPRO history is the whole prompt, so it is longer than
    OptoPrime's default of 0. Every other keyword argument is OptoPrime's.
    """

    user_prompt_template = templates.OPRO_USER_TEMPLATE
    output_format_prompt = templates.OPRO_OUTPUT_FORMAT
    default_objective = templates.OPRO_OBJECTIVE

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *args: Any,
        memory_size: int = 20,
        **kwargs: Any,
    ) -> None:
        super().__init__(parameters, llm, *args, memory_size=memory_size, **kwargs)

    def default_prompt_format(self) -> PromptFormat:
        return OproFormat()
