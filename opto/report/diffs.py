"""Parameter values before and after a proposal, as line diffs (``difflib``)."""

from __future__ import annotations

import difflib
from typing import Any

from opto.report.html_page import Html, esc
from opto.report.values import pretty

MAX_DIFF_LINES = 2_000


def changed_parameters(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Names whose value differs between the snapshots ``before`` and ``after``, in the
    order they appear (before, then new ones)."""
    names = list(before) + [name for name in after if name not in before]
    return [name for name in names if before.get(name) != after.get(name)]


def diff_lines(before: Any, after: Any) -> list[str]:
    """A unified diff from ``before`` to ``after`` as text lines (strings as they are, other
    values as indented JSON; None counts as empty)."""
    old = pretty(before).splitlines() if before is not None else []
    new = pretty(after).splitlines() if after is not None else []
    lines = list(difflib.unified_diff(old, new, "before", "after", lineterm="", n=3))
    return lines[2:]  # the file header lines say nothing here


def diff_html(before: Any, after: Any) -> Html:
    """The diff from ``before`` to ``after`` as a ``<pre class="diff">``: added lines green,
    removed red (very long diffs are cut)."""
    lines = diff_lines(before, after)
    shown = lines[:MAX_DIFF_LINES]
    rendered = []
    for line in shown:
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "")
        css = f' class="{kind}"' if kind else ""
        rendered.append(f"<span{css}>{esc(line)}</span>" if kind else f"{esc(line)}\n")
    if len(lines) > len(shown):
        rendered.append(esc(f"[... {len(lines) - len(shown):,} more lines]"))
    return Html('<pre class="diff">' + "".join(rendered) + "</pre>")
