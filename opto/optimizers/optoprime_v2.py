"""OptoPrimeV2: the OptoPrime core with the tagged prompt format (Trace 0.2), as a preset.

Everything but the text format is OptoPrime's: the same problem building, safe updates,
refusal notes, repair, log and token budget; the text is ``TaggedFormat``'s
(``opto.optimizers.formats``). Names of sections and tags come from a symbol set
(``optimizer_prompt_symbol_set``); ``initialize_prompt()`` fills the class-level templates with
them. Values of non-variable nodes are cut at ``initial_var_char_limit`` characters; memory
keeps code indentation (Trace 0.2 lost it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opto.optimizers.formats import PromptFormat, TaggedFormat
from opto.optimizers.optoprime import OptoPrime
from opto.optimizers.prompts import optoprime_v2 as templates
from opto.optimizers.symbol_sets import (
    OptimizerPromptSymbolSet,
    OptimizerPromptSymbolSet2,
    OptimizerPromptSymbolSetJSON,
)
from opto.optimizers.tagged_problem import (
    MemoryInstance,
    ProblemInstance,
    tag_names,
    tagged_entries,
    titles,
)
from opto.optimizers.utils import extract_xml_like_data, truncate_expression
from opto.trace.nodes import ParameterNode

__all__ = [
    "MemoryInstance",
    "OptimizerPromptSymbolSet",
    "OptimizerPromptSymbolSet2",
    "OptimizerPromptSymbolSetJSON",
    "OptoPrimeV2",
    "ProblemInstance",
    "extract_xml_like_data",
    "truncate_expression",
]


class SymbolTemplate:
    """A class attribute that is a template on the class and filled with the instance's symbol
    set on an instance, so ``optimizer.default_objective`` reads as a finished sentence."""

    def __init__(self, template: str) -> None:
        self.template = template

    def __get__(self, instance: Any, owner: type) -> str:
        symbols = None if instance is None else instance.__dict__.get("optimizer_prompt_symbol_set")
        if symbols is None:
            return self.template
        return self.template.format(**titles(symbols), **tag_names(symbols))


class OptoPrimeV2(OptoPrime):
    """OptoPrime speaking XML tags (``<variable><name>...</name><value>...</value>``).

    Arguments: ``parameters`` to train; ``llm`` (default ``LLM()``, made at the first step);
    ``max_tokens`` (default 8192: the most tokens the LLM may write per reply);
    ``initial_var_char_limit`` (default 2000: values of inputs, intermediate nodes and
    outputs are cut to this many characters, 0: never);
    ``optimizer_prompt_symbol_set`` (section titles and tag names, default
    ``default_symbol_set()``); ``truncate_expression`` (the function ``(value, limit) ->
    text`` that does the cutting, default ``opto.optimizers.utils.truncate_expression``).
    Every other keyword argument is OptoPrime's.
    """

    representation_prompt = templates.REPRESENTATION_TEMPLATE
    output_format_prompt_template = templates.OUTPUT_FORMAT_TEMPLATE
    default_objective = SymbolTemplate(templates.DEFAULT_OBJECTIVE_TEMPLATE)
    user_prompt_template = templates.USER_PROMPT_TEMPLATE
    example_problem_template = templates.EXAMPLE_PROBLEM_TEMPLATE
    example_prompt = templates.EXAMPLE_PROMPT
    final_prompt = templates.FINAL_PROMPT

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *args: Any,
        max_tokens: int = 8192,
        initial_var_char_limit: int = 2000,
        optimizer_prompt_symbol_set: OptimizerPromptSymbolSet | None = None,
        truncate_expression: Callable[[Any, int], str] = truncate_expression,
        **kwargs: Any,
    ) -> None:
        self.optimizer_prompt_symbol_set = optimizer_prompt_symbol_set or self.default_symbol_set()
        self.initial_var_char_limit = initial_var_char_limit
        self.truncate_expression = truncate_expression
        super().__init__(parameters, llm, *args, max_tokens=max_tokens, **kwargs)

    def default_symbol_set(self) -> OptimizerPromptSymbolSet:
        """The symbol set used when none is given."""
        return OptimizerPromptSymbolSet()

    def default_prompt_format(self) -> PromptFormat:
        """``TaggedFormat()``: the tag format reads this optimizer's symbol set."""
        return TaggedFormat()

    # -- problem ---------------------------------------------------------------------------

    def repr_node_value(
        self,
        node_dict: Mapping[str, Any],
        node_tag: str = "node",
        value_tag: str = "value",
        constraint_tag: str = "constraint",
    ) -> str:
        """One ``<node_tag>`` block per entry of ``node_dict`` (prompt name -> ``(value,
        description)``), with the full value in a ``<value_tag>`` block (the #Variables
        section). Descriptions are shown in ``<constraint_tag>`` blocks only when
        ``node_tag`` is the symbol set's variable tag, i.e. for the trained variables."""
        with_constraints = node_tag == self.optimizer_prompt_symbol_set.variable_tag
        return tagged_entries(node_dict, node_tag, value_tag, constraint_tag, with_constraints)

    def repr_node_value_compact(
        self,
        node_dict: Mapping[str, Any],
        node_tag: str = "node",
        value_tag: str = "value",
        constraint_tag: str = "constraint",
    ) -> str:
        """As ``repr_node_value`` (same ``node_dict``, ``node_tag``, ``value_tag`` and
        ``constraint_tag``), with values cut at ``initial_var_char_limit`` characters by
        ``truncate_expression``; used for inputs, intermediate nodes and outputs (and for
        OPROv2's solution)."""
        with_constraints = node_tag == self.optimizer_prompt_symbol_set.variable_tag
        limit = self.initial_var_char_limit
        shorten = (lambda text: self.truncate_expression(text, limit)) if limit else None
        return tagged_entries(
            node_dict, node_tag, value_tag, constraint_tag, with_constraints, shorten
        )

    def extract_llm_suggestion(self, response: str) -> dict[str, Any]:  # type: ignore[override]
        """``{"reasoning": str, "variables": {name: value}}`` read from the reply text
        ``response`` by the symbol set's ``output_response_extractor``."""
        return self.prompt_format.extract(self, response)
