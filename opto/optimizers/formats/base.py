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
from types import MappingProxyType
from typing import Any, ClassVar

from opto.optimizers.parsing import ParsedReply
from opto.optimizers.prompts import optoprime as trace_templates
from opto.utils.errors import OptoError

DEFAULT_JSON_KEYS = {"reasoning": "reasoning", "answer": "answer", "suggestion": "suggestion"}
DEFAULT_OUTPUT_FORMAT = trace_templates.OUTPUT_FORMAT_WITH_ANSWER.format(**DEFAULT_JSON_KEYS)
# Trace's prompt pieces: OptoPrime's class attributes. A class that still has one of these
# (or none) takes the piece of its format instead (see ``PromptFormat.template``).
TRACE_PIECES: Mapping[str, Any] = MappingProxyType(
    {
        "representation_prompt": trace_templates.REPRESENTATION,
        "default_objective": trace_templates.DEFAULT_OBJECTIVE,
        "output_format_prompt": DEFAULT_OUTPUT_FORMAT,
        "user_prompt_template": trace_templates.USER_PROMPT_TEMPLATE,
        "example_problem_template": trace_templates.EXAMPLE_PROBLEM_TEMPLATE,
        "example_prompt": trace_templates.EXAMPLE_PROMPT,
        "final_prompt": trace_templates.FINAL_PROMPT,
    }
)


class SuggestionExtractionError(OptoError, ValueError):
    """The LLM's reply held no usable suggestion (raised when ignore_extraction_error=False)."""


class PromptFormat:
    """Base of the prompt formats; a subclass overrides what its format does differently.

    The built-in formats are ``TraceJsonFormat`` (OptoPrime), ``TaggedFormat``
    (OptoPrimeV2), ``OproFormat`` (OPRO) and ``OproTaggedFormat`` (OPROv2).

    ``pieces`` are the class-level prompt pieces the format brings (its templates). A preset
    sets the same pieces as class attributes, and a subclass of it may change them; a plain
    ``OptoPrime`` given the format has only Trace's pieces, so the format's are used. That is
    what lets ``OptoPrime(params, prompt_format=TaggedFormat())`` send OptoPrimeV2's prompts.
    """

    pieces: ClassVar[Mapping[str, Any]] = MappingProxyType({})

    def template(self, optimizer: Any, name: str) -> Any:
        """The class-level piece ``name``: the optimizer class's own, or this format's when
        the class has only Trace's default for it (or nothing)."""
        own = getattr(type(optimizer), name, None)
        if name in self.pieces and (own is None or own is TRACE_PIECES.get(name)):
            return self.pieces[name]
        return own

    def piece(self, optimizer: Any, name: str) -> Any:
        """The piece ``name`` as used: set on the optimizer instance, else ``template``."""
        if name in vars(optimizer):
            return vars(optimizer)[name]
        return self.template(optimizer, name)

    def reply_label(self, optimizer: Any) -> str:
        """What a repair request to ``optimizer``'s LLM calls the reply format ("Answer
        again in the same JSON ...")."""
        return "JSON"

    def initialize(self, optimizer: Any) -> None:
        """Prepare the optimizer's filled prompt pieces (default: nothing to fill)."""

    def default_objective(self, optimizer: Any) -> str:
        """The objective used when the optimizer is given none."""
        return self.piece(optimizer, "default_objective")

    def default_prompt_symbols(self, optimizer: Any) -> Mapping[str, str]:
        """The section markers ``optimizer``'s ``prompt_symbols`` are merged into (default:
        the optimizer's own ``default_prompt_symbols``)."""
        return optimizer.default_prompt_symbols

    def expects_json(self, optimizer: Any) -> bool:
        """Whether ``optimizer``'s LLM is asked for JSON (only then is JSON mode requested,
        since it would forbid a tagged reply)."""
        return True

    def system_prompt(self, optimizer: Any) -> str:
        """The system prompt of ``optimizer``'s step: how the problem is shown, and the
        reply format asked for."""
        raise NotImplementedError

    def user_prompt(self, optimizer: Any, summary: Any, mask: Sequence[str] | None) -> str:
        """The user prompt of ``optimizer``'s step for the problem ``summary`` (its
        ``summarize()``): the problem, memory and the request; the sections named in
        ``mask`` are left empty (None: all shown)."""
        raise NotImplementedError

    def problem_instance(self, optimizer: Any, summary: Any, mask: Sequence[str] | None) -> Any:
        """The sections of the problem ``summary`` as text, an object whose ``str()`` is the
        problem block; sections named in ``mask`` are empty. Values are rendered through
        ``optimizer``'s hooks (``repr_node_value``...), so their overrides apply."""
        raise NotImplementedError

    def render_problem(self, optimizer: Any, instance: Any) -> str:
        """The problem block's text for ``optimizer``'s prompt, from the ``instance``
        ``problem_instance`` returned (default ``str(instance)``)."""
        return str(instance)

    def memory_text(self, optimizer: Any) -> str:
        """Past rounds of ``optimizer.memory`` as text for the user prompt (default: none
        shown)."""
        return ""

    def example(self, optimizer: Any) -> str:
        """The worked example shown before the problem when ``optimizer`` has
        ``include_example=True`` (default: none)."""
        return ""

    def parse(self, optimizer: Any, reply: str) -> ParsedReply:
        """Read the LLM's ``reply`` text (tolerantly, never raising for a bad reply) into a
        ``ParsedReply``, with ``optimizer``'s key or tag names."""
        raise NotImplementedError

    def extract(self, optimizer: Any, reply: str, **options: Any) -> dict[str, Any]:
        """What ``optimizer.extract_llm_suggestion(reply, **options)`` returns for the
        reply text ``reply`` (the shape is each format's, see its subclass)."""
        raise NotImplementedError

    def suggested_values(self, optimizer: Any, reply: str) -> Mapping[str, Any]:
        """The ``{name: value}`` a reply suggests, read through the optimizer's
        ``extract_llm_suggestion`` (so an override of that hook is used)."""
        return optimizer.extract_llm_suggestion(reply)
