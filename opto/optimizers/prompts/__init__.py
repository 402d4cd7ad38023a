"""Prompt templates, one module per optimizer family, and ``fill`` to fill them.

Templates use ``str.format`` syntax, as Trace's do, so users can override them the same way.
``fill`` gives the same text as ``str.format`` for plain ``{name}`` fields but joins the pieces
once, so a long value (a big prompt input) is copied once instead of being re-buffered.
"""

from __future__ import annotations

import functools
import string
from typing import Any

_FORMATTER = string.Formatter()


@functools.lru_cache(maxsize=256)
def _fields(template: str) -> tuple[tuple[str, str | None], ...] | None:
    """``(literal, field name)`` pairs of a template; None when a field is not a plain name."""
    parsed = []
    for literal, field, spec, conversion in _FORMATTER.parse(template):
        if spec or conversion or (field is not None and not field.isidentifier()):
            return None
        parsed.append((literal, field))
    return tuple(parsed)


def fill_pieces(template: str, **values: Any) -> list[str]:
    """The pieces of ``template.format(**values)``, to be joined (KeyError for a missing one)."""
    fields = _fields(template)
    if fields is None:
        return [template.format(**values)]
    pieces = []
    for literal, field in fields:
        if literal:
            pieces.append(literal)
        if field is not None:
            value = values[field]
            pieces.append(value if type(value) is str else format(value))
    return pieces


def fill(template: str, **values: Any) -> str:
    """``template.format(**values)``, joined once."""
    return "".join(fill_pieces(template, **values))
