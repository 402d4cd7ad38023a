"""What a step tells the user: refused and unknown suggestions, and steps with nothing to do.

Refusals are part of normal work (they are also written into the next prompt's #Feedback),
so they are logged at INFO on this module's logger and printed by ``step(verbose=True)``.
A step whose parameters received no feedback is different: the LLM would be shown an empty
#Variables section, so the step is skipped with a warning that points at the user's line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from opto.optimizers.updates import describe_refusals
from opto.utils.user_warnings import warn_user

logger = logging.getLogger(__name__)


class NoFeedbackWarning(UserWarning):
    """An optimizer was asked to step but none of its parameters received feedback."""


def report_refusals(
    optimizer_name: str, refused: Mapping[str, str], unknown: Iterable[str], verbose: Any
) -> None:
    """Log (INFO) and, when ``verbose``, print the suggested values a step did not apply.

    Args:
        optimizer_name: how to name the optimizer in the message.
        refused: parameter name -> why its suggested value was refused.
        unknown: suggested names that are not parameters of the optimizer.
        verbose: the step's ``verbose`` option; any true value prints.
    """
    text = describe_refusals(refused, unknown)
    if not text:
        return
    logger.info("%s: parts of the suggestion were not applied:\n%s", optimizer_name, text)
    if verbose:
        print(f"{optimizer_name}: not applied:\n{text}")


def missing_feedback(optimizer_name: str, parameters: list[Any]) -> str | None:
    """Why a step of these parameters has nothing to work on, or None when some received
    feedback. The reason is also issued as a `NoFeedbackWarning` (at the user's line), before
    any LLM call is spent.

    Args:
        optimizer_name: how to name the optimizer in the message.
        parameters: the optimizer's parameters.
    """
    if any(parameter.feedback for parameter in parameters):
        return None
    names = ", ".join(parameter.name for parameter in parameters[:5])
    more = f" and {len(parameters) - 5} more" if len(parameters) > 5 else ""
    reason = (
        f"{optimizer_name}.step() skipped, no LLM call made: none of its {len(parameters)} "
        f"parameter(s) ({names}{more}) received feedback, so the prompt would have an empty "
        "#Variables section. Either backward() was not called since zero_feedback(), or the "
        "output given to backward() was not computed from these parameters (for example, the "
        "optimizer was built on another instance's parameters). Build the optimizer on the "
        "parameters of the model that produced the output, then call "
        "optimizer.zero_feedback(); optimizer.backward(output, feedback); optimizer.step()."
    )
    warn_user(reason, NoFeedbackWarning)
    return reason
