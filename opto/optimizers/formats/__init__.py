"""Prompt formats: the parts that decide the text an OptoPrime-style optimizer exchanges.

``OptoPrime(..., prompt_format=...)`` takes one; the presets choose theirs (OptoPrime:
``TraceJsonFormat``, OptoPrimeV2: ``TaggedFormat``, OPRO: ``OproFormat``, OPROv2:
``OproTaggedFormat``). See docs/optimizers.md, "How an optimizer is built".
"""

from opto.optimizers.formats.base import PromptFormat, SuggestionExtractionError
from opto.optimizers.formats.opro import OproFormat, OproTaggedFormat
from opto.optimizers.formats.tagged import TaggedFormat
from opto.optimizers.formats.trace_json import TraceJsonFormat

__all__ = [
    "OproFormat",
    "OproTaggedFormat",
    "PromptFormat",
    "SuggestionExtractionError",
    "TaggedFormat",
    "TraceJsonFormat",
]
