"""Helpers Trace programs import from ``opto.optimizers.utils``.

``print_color`` for coloured console lines (every Trace trainer example uses it), the tag
helpers that read OptoPrimeV2's XML-like replies, and ``truncate_expression``, which shortens
long values in OptoPrimeV2's prompts. The tag helpers run on opto's linear, nesting-aware tag
scanner, so a hostile reply cannot make them slow or raise.
"""

from __future__ import annotations

import inspect
from typing import Any

from opto.optimizers.parsing import parse_xml_reply
from opto.optimizers.parsing.tag_blocks import extract_tag_blocks, tag_blocks
from opto.optimizers.prompts.optoprime_v2 import TRUNCATED
from opto.utils.rendering import render_text

__all__ = [
    "extract_first_top_level_block",
    "extract_reasoning_and_remainder",
    "extract_top_level_blocks",
    "extract_xml_like_data",
    "print_color",
    "strip_nested_blocks",
    "truncate_expression",
]

_COLOR_CODES = {"red": 91, "green": 92, "yellow": 93, "blue": 94, "magenta": 95, "cyan": 96}
_RESET = "\033[0m"


def print_color(message: Any, color: str | None = None, logger: Any = None) -> None:
    """Print ``message`` in ``color`` (red, green, yellow, blue, magenta or cyan).

    Another colour, or none, prints the message without a colour code (the reset code still
    ends the line, as in Trace). ``logger`` also receives the message: a logger whose ``log``
    takes one argument gets ``log(message)``; a trainer logger (``log(name, data, step)``)
    gets ``log("message", message, 0)``. Trace called ``log(message)`` on both and so failed on
    trainer loggers.
    """
    code = _COLOR_CODES.get(color or "")
    prefix = f"\033[{code}m" if code is not None else ""
    print(f"{prefix}{message}{_RESET}")
    if logger is not None:
        _log_message(logger, message)


def _log_message(logger: Any, message: Any) -> None:
    log = logger.log
    try:
        inspect.signature(log).bind(message)
    except TypeError:
        log("message", message, 0)
    except ValueError:  # no signature to inspect (a builtin): try the one-argument form
        log(message)
    else:
        log(message)


def truncate_expression(value: Any, limit: int) -> str:
    """``str(value)``, cut to ``limit`` characters with a note when it is longer (through the
    bounded renderer: a value that ``str()`` cannot print, or only slowly, is still cut)."""
    text = render_text(value, max_chars=max(limit, 0) + 1)
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATED


def extract_top_level_blocks(text: str, tag: str) -> list[str]:
    """The content of every closed top-level ``<tag>`` block of ``text``; nested same-name
    tags stay inside their block, stray closing tags are skipped, an unclosed block is not
    returned."""
    return extract_tag_blocks(text, tag)


def extract_first_top_level_block(text: str, tag: str) -> str | None:
    """The content of the first closed top-level ``<tag>`` block of ``text``, or None."""
    blocks = extract_top_level_blocks(text, tag)
    return blocks[0] if blocks else None


def strip_nested_blocks(text: str, tag: str) -> str:
    """``text`` without its top-level ``<tag>`` blocks (and all they contain), stripped.

    Everything from an opening tag that never closes to the end of the text goes too.
    """
    if not isinstance(text, str) or not isinstance(tag, str) or not tag.strip():
        return text.strip() if isinstance(text, str) else ""
    kept, position = [], 0
    for block in tag_blocks(text, tag.strip()):
        kept.append(text[position : block.start])
        position = block.end
    kept.append(text[position:])
    return "".join(kept).strip()


def extract_reasoning_and_remainder(text: str, tag: str = "reasoning") -> tuple[str, str]:
    """``(reasoning, rest)``: the stripped content of the first ``<tag>...</tag>`` and the text
    after it. Without the opening tag: ``("", text)``; with an opening tag that never closes:
    everything after it, and ``""``."""
    opening, closing = f"<{tag}>", f"</{tag}>"
    start = text.find(opening)
    if start < 0:
        return "", text
    content_start = start + len(opening)
    end = text.find(closing, content_start)
    if end < 0:
        return text[content_start:], ""
    return text[content_start:end].strip(), text[end + len(closing) :]


def extract_xml_like_data(
    text: str,
    reasoning_tag: str = "reasoning",
    improved_variable_tag: str = "variable",
    name_tag: str = "name",
    value_tag: str = "value",
) -> dict[str, Any]:
    """Read ``text``, an OptoPrimeV2 reply: ``{"reasoning": str, "variables": {name: value}}``.

    The tag names are parameters so that other symbol sets can be read: ``reasoning_tag``
    holds the reasoning, each ``improved_variable_tag`` block one variable, with its name in
    ``name_tag`` and its value in ``value_tag``.

    Each ``<variable>`` block needs a ``<name>`` and a ``<value>``; values are stripped strings
    and a later block for the same name wins. More tolerant than Trace's: tags may differ in
    case or carry attributes, variables written inside an unclosed reasoning block are still
    found, and a blank ``__code`` value is dropped (it would erase the function).
    """
    parsed = parse_xml_reply(
        text,
        reasoning_tag=reasoning_tag,
        variable_tag=improved_variable_tag,
        name_tag=name_tag,
        value_tag=value_tag,
    )
    return {"reasoning": parsed.reasoning or "", "variables": dict(parsed.suggestion)}
