"""Three small optimization problems whose prompts were sent to a real small model.

``collect_replies.py`` asks a model for replies to these problems' first OptoPrime prompt and
stores them; ``tests/unit/optimizers/test_small_model_replies.py`` rebuilds the same problems
(same names, same prompt) and checks what opto makes of each stored reply. Each builder
returns ``(parameters, output, feedback)`` ready for ``zero_feedback``/``backward``/``step``.
"""

from __future__ import annotations

from typing import Any

from opto.trace import bundle, node


def strange_sort_problem() -> tuple[list, Any, str]:
    """Trainable code (the quickstart's function), fed back its wrong output."""

    @bundle(trainable=True)
    def strange_sort_list(lst):
        """Return the list in strange order: the minimum, then the maximum of the rest, then
        the minimum of the rest, and so on."""
        lst = sorted(lst)
        return lst

    output = strange_sort_list(node([1, 2, 3, 4], name="lst"))
    feedback = "strange_sort_list([1, 2, 3, 4]) returned [1, 2, 3, 4]; expected [1, 4, 2, 3]."
    return list(strange_sort_list.parameters()), output, feedback


def linear_problem() -> tuple[list, Any, str]:
    """Two trainable floats and a constant: ``a * x + b`` should be 10."""
    a = node(1.0, trainable=True, name="a")
    b = node(2.0, trainable=True, name="b")
    x = node(3, name="x")
    output = a * x + b
    return [a, b], output, "The output is 5.0 but should be 10.0: too small by 5.0."


def instruction_problem() -> tuple[list, Any, str]:
    """A trainable instruction joined to a question (the agent's prompt)."""
    instruction = node("Answer the question.", trainable=True, name="instruction")
    question = node(" What is 17 * 3? Reply with the number only.", name="question")
    output = instruction + question
    feedback = "The agent replied 'The answer is fifty-one.'; expected exactly '51'."
    return [instruction], output, feedback


PROBLEMS = {
    "strange_sort": strange_sort_problem,
    "linear": linear_problem,
    "instruction": instruction_problem,
}
