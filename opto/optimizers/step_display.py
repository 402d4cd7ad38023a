"""How a ``StepResult`` shows itself: what a step applied, refused and did not know.

Keys are shown by parameter name (``py_name``), values shortened, so that printing the result
of a step on a page of code stays one readable line.
"""

from __future__ import annotations

from typing import Any

from opto.utils.display import html_block, shorten

VALUE_LIMIT = 60


def _name(parameter: Any) -> str:
    return str(getattr(parameter, "py_name", parameter))


def step_result_repr(result: Any) -> str:
    """``result``, a StepResult, as ``StepResult({'x0': 5}, refused={'y0': 'why'},
    unknown=['z'], error=...)``."""
    applied = ", ".join(f"{_name(p)!r}: {shorten(repr(v), VALUE_LIMIT)}" for p, v in result.items())
    parts = [f"{{{applied}}}"]
    if result.refused:
        parts.append(f"refused={dict(result.refused)!r}")
    if result.unknown:
        parts.append(f"unknown={list(result.unknown)!r}")
    if result.terminated:
        parts.append("terminated=True")
    if result.error:
        parts.append(f"error={shorten(result.error, 200)!r}")
    return f"StepResult({', '.join(parts)})"


def step_result_html(result: Any) -> str:
    """``result``, a StepResult, as an HTML table: each parameter with its new value, or why
    its suggestion was refused."""
    rows = [(_name(p), "applied", shorten(repr(v))) for p, v in result.items()]
    rows += [(name, "refused", reason) for name, reason in result.refused.items()]
    rows += [(name, "unknown", "not a parameter of this optimizer") for name in result.unknown]
    summary = [("applied", str(len(result))), ("refused", str(len(result.refused)))]
    if result.terminated:
        summary.append(("terminated", "the model answered TERMINATE"))
    if result.error:
        summary.append(("error", result.error))
    return html_block("StepResult", summary, (["parameter", "outcome", "value or reason"], rows))
