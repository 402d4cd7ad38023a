"""How nodes and modules look in a REPL and a notebook.

A module prints as PyTorch prints one: its class, then one line per parameter (name, type,
trainable or fixed, a short value), nested containers indented. In a notebook (`_repr_html_`)
a node is a small table (kind, name, type, description, inputs, feedback, value) and a module
is a table of its parameters. All text is HTML-escaped: a value an LLM wrote is shown, never
interpreted. Only public attributes are read (``name``, ``data``, ``trainable``,
``description``, ``parameters_dict``...), so this module needs no node class and the node
classes can use it.
"""

from __future__ import annotations

import html
from typing import Any

SHORT_VALUE_CHARS = 60
HTML_VALUE_CHARS = 2000
BLOCK_STYLE = "font-family:system-ui,sans-serif;font-size:13px;line-height:1.35"
CELL_STYLE = "padding:2px 10px 2px 0;text-align:left;vertical-align:top"


def short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def is_code(parameter: Any) -> bool:
    """Whether ``parameter`` holds a bundle's trainable source (it has a ``code_spec``)."""
    return parameter.code_spec is not None


def value_type(parameter: Any) -> str:
    """The type shown for ``parameter``: ``code`` for trainable source, else the name of the
    value's type."""
    return "code" if is_code(parameter) else type(parameter.data).__name__


def trainable_word(parameter: Any) -> str:
    """``trainable`` or ``fixed``, as ``parameter`` is, for the parameter table."""
    return "trainable" if parameter.trainable else "fixed"


def module_repr(module: Any) -> str:
    """``module`` as PyTorch-style text: ``Agent(`` then ``(name): type, trainable = value``
    lines."""
    lines: list[str] = []
    _describe(module, type(module).__name__, "", lines, set())
    return "\n".join(lines)


def _describe(container: Any, head: str, indent: str, lines: list[str], seen: set[int]) -> None:
    entries = container.parameters_dict() if id(container) not in seen else {}
    seen.add(id(container))
    if not entries:
        lines.append(f"{indent}{head}()")
        return
    lines.append(f"{indent}{head}(")
    inner = indent + "  "
    for name, entry in entries.items():
        if hasattr(entry, "parameters_dict"):
            _describe(entry, f"({name}): {type(entry).__name__}", inner, lines, seen)
        else:
            value = short(repr(entry.data), SHORT_VALUE_CHARS)
            lines.append(f"{inner}({name}): {value_type(entry)}, {trainable_word(entry)} = {value}")
    lines.append(f"{indent})")


def module_html(module: Any) -> str:
    """A table of the module's parameters: path, type, trainable, value (escaped, shortened)."""
    named = module.named_parameters()
    trainable = sum(1 for parameter in named.values() if parameter.trainable)
    title = html.escape(
        f"{type(module).__name__}: {len(named)} parameter(s), {trainable} trainable"
    )
    rows = [_row(["name", "type", "trainable", "value"], header=True)]
    for path, parameter in named.items():
        value = short(str(parameter.data), HTML_VALUE_CHARS)
        rows.append(
            _row(
                [path, value_type(parameter), "yes" if parameter.trainable else "no", value],
                pre_last=True,
            )
        )
    return _table(title, rows)


def node_html(node: Any) -> str:
    """A node as a table: kind, name, type, trainable, description, inputs, feedback, value."""
    kind = type(node).__name__
    rows = [
        _row(["name", node.name]),
        _row(["type", type(node.data).__name__]),
        _row(["trainable", "yes" if node.trainable else "no"]),
    ]
    if node.description:
        rows.append(_row(["description", short(node.description, HTML_VALUE_CHARS)]))
    inputs = getattr(node, "inputs", None)
    if isinstance(inputs, dict) and inputs:
        listed = ", ".join(f"{key}={value.name}" for key, value in inputs.items())
        rows.append(_row(["inputs", listed]))
    if node.feedback:
        rows.append(_row(["feedback", f"from {len(node.feedback)} child node(s)"]))
    value = short(str(node.data), HTML_VALUE_CHARS)
    rows.append(_row(["value", value], pre_last=True))
    return _table(html.escape(kind), rows)


def _row(cells: list[str], header: bool = False, pre_last: bool = False) -> str:
    parts = []
    for position, cell in enumerate(cells):
        text = html.escape(str(cell))
        if pre_last and position == len(cells) - 1:
            text = f'<pre style="margin:0;white-space:pre-wrap;font-size:12px">{text}</pre>'
        if header:
            parts.append(f'<th style="{CELL_STYLE};border-bottom:1px solid #ccc">{text}</th>')
        elif position == 0:
            parts.append(f'<th style="{CELL_STYLE};color:#555;font-weight:normal">{text}</th>')
        else:
            parts.append(f'<td style="{CELL_STYLE}">{text}</td>')
    return "<tr>" + "".join(parts) + "</tr>"


def _table(title: str, rows: list[str]) -> str:
    return (
        f'<div style="{BLOCK_STYLE}"><strong>{title}</strong>'
        f'<table style="border-collapse:collapse;margin-top:4px">{"".join(rows)}</table></div>'
    )
