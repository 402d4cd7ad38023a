"""Small helpers shared by the trainer (Trace-compatible names)."""

from __future__ import annotations

from typing import Any

from opto.trace.bundle import bundle
from opto.utils.rendering import render_text


def id_lines(items: list[Any]) -> str:
    """``"ID [0]: a\\nID [1]: b\\n"``: how a batch is shown as one text."""
    return "".join(f"ID [{index}]: {render_text(item)}\n" for index, item in enumerate(items))


@bundle()
def batchify(*items: Any) -> str:
    """Lists the results of a batch, one per line, each tagged with its example number
    ("ID [i]: ..."), so that one feedback text can refer to each example."""
    return id_lines(list(items))
