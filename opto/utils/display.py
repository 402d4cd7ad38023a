"""How result objects show themselves in a REPL (``__repr__``) and a notebook (``_repr_html_``).

Result classes (a step's ``StepResult``, a ``TrainResult``, a discovery ``Archive``, a cost
``Estimate``) describe themselves as a title and rows of ``(label, value)``, optionally with a
table; these helpers turn that into one short text and one small, escaped HTML block, so every
result looks alike and no class repeats the markup. Values are shortened: a repr must stay
readable when a parameter holds a page of code.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

CELL_LIMIT = 120  # characters of one value shown in a repr


def shorten(text: str, limit: int = CELL_LIMIT) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_score(value: Any) -> str:
    """The score ``value`` with 4 significant digits; ``-`` when None, a short repr otherwise."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, (int, float)):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return shorten(repr(value), 40)


def format_cost(value: Any) -> str:
    """The cost ``value`` in dollars: ``$0.0123``; ``unknown`` when a price was missing (None)."""
    if value is None:
        return "unknown"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"${value:.4f}" if value < 100 else f"${value:,.2f}"
    return shorten(str(value), 20)


def format_count(value: Any) -> str:
    """The count ``value`` with thousands separators (``12,345``); other values as text."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float) and math.isfinite(value):
        return f"{round(value):,}"
    return "-" if value is None else shorten(str(value), 20)


def text_block(title: str, rows: Iterable[tuple[str, str]]) -> str:
    """``title`` then one line per ``(label, value)`` pair of ``rows``, labels aligned."""
    rows = list(rows)
    width = max((len(label) for label, _ in rows), default=0)
    lines = [title] + [f"  {label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Iterable[Sequence[str]], indent: str = "  ") -> str:
    """``header`` and ``rows`` (lists of cell texts) as aligned columns, each line prefixed
    by ``indent``: the first column left-aligned, the others right-aligned (numbers)."""
    rows = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append(indent + "  ".join(cells).rstrip())
    return "\n".join(lines)


def html_block(
    title: str,
    rows: Iterable[tuple[str, str]],
    table: tuple[Sequence[str], Iterable[Sequence[str]]] | None = None,
) -> str:
    """``title`` over a two-column table of ``rows`` (label, value), then ``table`` (header,
    body rows) if given; the HTML notebooks show for ``_repr_html_``.

    Every label and value is HTML-escaped here: callers pass plain text.
    """
    cell = "padding:2px 10px 2px 0;text-align:left;vertical-align:top"
    parts = [
        '<div style="font-family:system-ui,sans-serif;font-size:13px;line-height:1.35">',
        f"<strong>{html.escape(title)}</strong>",
        '<table style="border-collapse:collapse;margin-top:4px">',
    ]
    for label, value in rows:
        parts.append(
            f'<tr><th style="{cell};color:#555;font-weight:normal">{html.escape(label)}</th>'
            f'<td style="{cell}">{html.escape(value)}</td></tr>'
        )
    parts.append("</table>")
    if table is not None:
        header, body = table
        parts.append('<table style="border-collapse:collapse;margin-top:6px">')
        parts.append(
            "<tr>"
            + "".join(
                f'<th style="{cell};border-bottom:1px solid #ccc">{html.escape(h)}</th>'
                for h in header
            )
            + "</tr>"
        )
        for row in body:
            parts.append(
                "<tr>"
                + "".join(f'<td style="{cell}">{html.escape(str(value))}</td>' for value in row)
                + "</tr>"
            )
        parts.append("</table>")
    parts.append("</div>")
    return "".join(parts)
