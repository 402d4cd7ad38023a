"""OPRO: optimization by prompting with the history of values and their feedback.

It does not show the computation graph: the user prompt lists past values of the variables
with the feedback each received (the OPRO paper's history, bounded here by ``memory_size``),
then the objective. Parsing, safe updates and logging are OptoPrime's; the system prompt is
OPRO's own output format (Trace 0.2 sent OptoPrime's by mistake).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from opto.optimizers.function_feedback import FunctionFeedback
from opto.optimizers.optoprime import OptoPrime
from opto.optimizers.prompts import opro as templates
from opto.trace.nodes import ParameterNode
from opto.utils.rendering import render_json


class OPRO(OptoPrime):
    """Shows past variable values and their feedback, newest last; asks for new values.

    OPRO learns from the history of (values, feedback) rather than from the graph: the
    prompt holds the last ``memory_size`` rounds (default 20) and the current one. Takes
    OptoPrime's other arguments (``parameters`` to train, ``llm``, ...; see
    ``help(OptoPrime)``).
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

    def construct_prompt(
        self,
        summary: FunctionFeedback,
        mask: Sequence[str] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[str, str]:
        """``(output format, history + objective)``: the current values and feedback of
        ``summary`` after the remembered rounds; ``mask`` does not apply (no sections)."""
        current = {
            "variables": {name: entry[0] for name, entry in summary.variables.items()},
            "feedback": summary.user_feedback,
        }
        history = [*self.memory, current][-max(self.memory.size, 1) :]
        examples = "\n".join(render_json(entry) for entry in history)
        user = self.user_prompt_template.format(examples=examples, instruction=self.objective)
        return self.output_format_prompt, user + self.final_prompt
