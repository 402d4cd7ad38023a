"""What the next prompt's #Feedback says about the previous suggestion.

A small model that is not told why its suggestion had no effect tends to send it again: in
real runs it kept proposing new values for the program's constants, for the board a policy was
called on, or a new signature for the function. So every part of a suggestion that was not
applied is named in the next prompt with the reason: a refused value (with the exact
signature to keep when code changed it), a name that is an input, a constant or a computed
value rather than a variable, a name the prompt never showed, a key that was read as another
name, an empty or unreadable suggestion. The note ends with the names the model may change,
and says so when a refused suggestion comes back unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from opto.optimizers.key_resolution import PromptNames, ResolvedSuggestion
from opto.utils.display import shorten
from opto.utils.rendering import render_json

logger = logging.getLogger(__name__)

REPEATED = "you proposed this same refused value again"
_REMEMBERED = 256  # refused suggestions kept for recognising a repeat
_LISTED = 5  # names not in the problem listed one by one


class SuggestionFeedback:
    """Writes the note about one step's suggestion, and remembers refused suggestions so that
    the same one sent again is recognised. One per optimizer (its state is that memory)."""

    def __init__(self) -> None:
        self._refused_before: dict[tuple[str, str], None] = {}

    def note(self, resolved: ResolvedSuggestion, result: Any, names: PromptNames) -> str:
        """The note for the next prompt ("" when everything was applied).

        Arguments:
            resolved: the step's suggestion with its keys read as prompt names.
            result: the step's ``StepResult``: its ``refused`` (name -> why the value was not
                applied), ``unknown`` (suggested names that are not variables), ``error``
                (why the reply gave no suggestion) and ``terminated``.
            names: the names the prompt showed.
        """
        refused, unknown, error = result.refused, result.unknown, result.error
        terminated = result.terminated
        if terminated:
            return ""
        lines = []
        seen_now: list[tuple[str, str]] = []
        for name, reason in refused.items():
            line = f"- {name}: {reason}"
            key = (name, _fingerprint(resolved.suggestion.get(name, reason)))
            if key in self._refused_before:
                line += f" ({REPEATED})"
            seen_now.append(key)
            lines.append(line)
        not_shown = []
        for name in unknown:
            key = (name, _fingerprint(resolved.suggestion.get(name)))
            again = f" ({REPEATED})" if key in self._refused_before else ""
            seen_now.append(key)
            if names.section_of(name) is None:
                not_shown.append(repr(name) + again)
            else:
                lines.append(f"- {name}: {_not_a_variable(name, names)}{again}")
        if not_shown:
            listed = ", ".join(not_shown[:_LISTED])
            more = len(not_shown) - _LISTED
            listed += f" and {more} more" if more > 0 else ""
            lines.append(f"- not names in this problem, ignored: {listed}")
        if not resolved.suggestion and not refused:
            lines.append(
                f"- your reply could not be read: {error}"
                if error and "no suggestion" not in error
                else "- your reply suggested no change"
            )
        self._remember(seen_now)
        head = "Note: parts of your previous suggestion were not applied:"
        if not lines:
            head = "Note: about the keys of your previous suggestion:"
        for written, name in resolved.renamed.items():
            lines.append(f"- the key {shorten(repr(written), 80)} was read as {name}: use the name alone")
        if not lines:
            return ""
        allowed = ", ".join(names.variables) or "(none)"
        lines.append(
            f"The only names you may change are the variables: {allowed}. "
            "Use these names as the keys of your suggestion."
        )
        return head + "\n" + "\n".join(lines)

    def _remember(self, keys: list[tuple[str, str]]) -> None:
        for key in keys:
            self._refused_before.pop(key, None)
            self._refused_before[key] = None
        while len(self._refused_before) > _REMEMBERED:
            del self._refused_before[next(iter(self._refused_before))]


def _not_a_variable(name: str, names: PromptNames) -> str:
    if names.section_of(name) == "input":
        return "an input or constant of the code (#Inputs), not a variable; it cannot be changed"
    return (
        "a value the code computes (#Others or #Outputs), not a variable; change the variables "
        "it is computed from"
    )


def _fingerprint(value: Any) -> str:
    return render_json(value, indent=None)


def report_note(optimizer_name: str, note: str, verbose: Any) -> None:
    """Log (INFO, this module's logger) and, when ``verbose``, print the note that the next
    prompt will carry.

    Arguments:
        optimizer_name: how to name the optimizer in the message.
        note: the text from ``SuggestionFeedback.note`` ("" logs nothing).
        verbose: the step's ``verbose`` option; any true value prints.
    """
    if not note:
        return
    logger.info("%s: the next prompt's feedback will say:\n%s", optimizer_name, note)
    if verbose:
        print(f"{optimizer_name}: the next prompt's feedback will say:\n{note}")
