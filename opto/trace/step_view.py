"""A readable view of one optimizer step, for notebooks (Trace's ``opto.trace.utils.render_opt_step``).

It reads only the step log an optimizer keeps (``optimizer.log``), so it needs no optimizer class
and lives with the trace, where Trace users import it from.
"""

from __future__ import annotations

import html
import json
from typing import Any


class StepView:
    """HTML of a step; notebooks display it through ``_repr_html_``, ``str()`` gives text.

    ``html_text`` is the HTML shown in notebooks and ``text`` the plain version.
    """

    def __init__(self, html_text: str, text: str) -> None:
        self.html = html_text
        self.text = text

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.text


def _block(title: str, body: str, colour: str) -> str:
    return (
        f'<div style="border-left:4px solid {colour};padding:4px 10px;margin:6px 0">'
        f"<b>{html.escape(title)}</b><pre style='white-space:pre-wrap;margin:4px 0'>"
        f"{html.escape(body)}</pre></div>"
    )


def render_opt_step(
    step_idx: int, optimizer: Any, no_trace_graph: bool = False, no_improvement: bool = False
) -> StepView:
    """What ``optimizer`` saw and did at ``step_idx`` (an index into ``optimizer.log``).

    ``no_trace_graph=True`` leaves out the problem shown to the LLM and
    ``no_improvement=True`` the values it suggested and what was applied.
    """
    log = getattr(optimizer, "log", None)
    if not log:
        raise ValueError("the optimizer has no log; create it with log=True and run a step")
    record = list(log)[step_idx]
    sections: list[tuple[str, str, str]] = []
    if not no_trace_graph:
        sections.append(("Problem shown to the LLM", record["user_prompt"], "#5C9BD5"))
    if record.get("reasoning"):
        sections.append(("Reasoning", str(record["reasoning"]), "#8E7CC3"))
    if not no_improvement:
        applied = json.dumps(record.get("applied", {}), indent=2, default=str)
        sections.append(("Applied values", applied, "#6AA84F"))
        if record.get("refused"):
            refused = "\n".join(f"{k}: {v}" for k, v in record["refused"].items())
            sections.append(("Refused values", refused, "#CC0000"))
    if record.get("error"):
        sections.append(("No suggestion", record["error"], "#CC0000"))
    if record.get("usage"):
        sections.append(("Usage", json.dumps(record["usage"], default=str), "#999999"))
    html_text = "".join(_block(title, body, colour) for title, body, colour in sections)
    text = "\n\n".join(f"== {title}\n{body}" for title, body, _ in sections)
    return StepView(f"<div><h4>Step {step_idx}</h4>{html_text}</div>", text)
