"""What a prompt format is: the part of an OptoPrime-style optimizer that decides the text.

The optimizer core (``opto.optimizers.optoprime.OptoPrime``) builds the problem from the
graph, calls the LLM, applies the suggestion safely, repairs, logs and remembers; everything
about the *text* of the exchange is asked of its format: the system prompt, the problem's
sections, the user prompt, memory, the worked example, how the reply is read and what a
repair request calls the format. Each method receives the optimizer, because the prompt
pieces Trace users change (``representation_prompt``, ``output_format_prompt``,
``json_keys``, ``prompt_symbols``, a symbol set, overridden hooks such as
``repr_node_value``) live on the optimizer; the format reads them and never changes them,
except in ``initialize`` (called once by the core, and again by ``initialize_prompt``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opto.optimizers.parsing import ParsedReply
from opto.utils.errors import OptoError


class SuggestionExtractionError(OptoError, ValueError):
    """The LLM's reply held no usable suggestion (raised when ignore_extraction_error=False)."""


class PromptFormat:
    """Base of the prompt formats; a subclass overrides what its format does differently.

    The built-in formats are ``TraceJsonFormat`` (OptoPrime), ``TaggedFormat``
    (OptoPrimeV2), ``OproFormat`` (OPRO) and ``OproTaggedFormat`` (OPROv2).
    """

    def reply_label(self, optimizer: Any) -> str:
        """What a repair request calls the reply format ("Answer again in the same ...")."""
        return "JSON"

    def initialize(self, optimizer: Any) -> None:
        """Prepare the optimizer's filled prompt pieces (default: nothing to fill)."""

    def default_objective(self, optimizer: Any) -> str:
        """The objective used when the optimizer is given none."""
        return optimizer.default_objective

    def default_prompt_symbols(self, optimizer: Any) -> Mapping[str, str]:
        """Section markers ``prompt_symbols`` are merged into."""
        return optimizer.default_prompt_symbols

    def expects_json(self, optimizer: Any) -> bool:
        """Whether the reply is JSON (then JSON mode may be requested)."""
        return True

    def system_prompt(self, optimizer: Any) -> str:
        raise NotImplementedError

    def user_prompt(self, optimizer: Any, summary: Any, mask: Sequence[str] | None) -> str:
        raise NotImplementedError

    def problem_instance(self, optimizer: Any, summary: Any, mask: Sequence[str] | None) -> Any:
        raise NotImplementedError

    def render_problem(self, optimizer: Any, instance: Any) -> str:
        """The problem block's text (default ``str(instance)``)."""
        return str(instance)

    def memory_text(self, optimizer: Any) -> str:
        """Past rounds for the user prompt (default: none shown)."""
        return ""

    def example(self, optimizer: Any) -> str:
        """The worked example shown with ``include_example=True`` (default: none)."""
        return ""

    def parse(self, optimizer: Any, reply: str) -> ParsedReply:
        raise NotImplementedError

    def extract(self, optimizer: Any, reply: str, **options: Any) -> dict[str, Any]:
        """What ``optimizer.extract_llm_suggestion(reply, **options)`` returns."""
        raise NotImplementedError

    def suggested_values(self, optimizer: Any, reply: str) -> Mapping[str, Any]:
        """The ``{name: value}`` a reply suggests, read through the optimizer's
        ``extract_llm_suggestion`` (so an override of that hook is used)."""
        return optimizer.extract_llm_suggestion(reply)
