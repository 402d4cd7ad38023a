"""What a run directory records besides checkpoints: each proposal, and how the run was built.

``proposals.jsonl`` holds one JSON line per optimizer step of the run (a step of a search
makes one per parent and proposal): the prompt sent, the reply, the parsed suggestion, what
was applied, refused (and why) or unknown, the parameter values before and after, and the
trace graph the optimizer saw. It is what ``opto report`` shows step by step. A resumed run
appends; a step cut short by a kill appears again when it is run again (``index`` restarts at
0), and readers keep the latest attempt.

``describe_components`` names the model class, optimizers and guide in ``config.json``, so
``opto show`` can say how to resume a run. Names only: nothing is ever imported from them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opto.trace.nodes import ExceptionNode, MessageNode, ParameterNode
from opto.trainer.checkpoint import encode_snapshot
from opto.trainer.loggers import JSONLinesLogger
from opto.utils.rendering import render_repr, render_text

MAX_GRAPH_NODES = 200
LABEL_LIMIT = 100


class ProposalLog:
    """Writes ``proposals.jsonl``; does nothing when the run has no directory (``path=None``)."""

    def __init__(self, path: Path | None) -> None:
        self._writer = JSONLinesLogger(path) if path is not None else None
        self._marker: tuple[int, int] | None = None
        self._index = 0
        self._step = -1

    def start(self, optimizer: Any) -> None:
        """Call before the optimizer's step: remembers where its log stood."""
        if self._writer is not None:
            self._marker = _log_marker(optimizer)

    def finish(
        self,
        step: int,
        parent: Any,
        child: Any,
        proposed: dict[str, Any] | None,
        optimizer: Any,
    ) -> None:
        """Record the step just taken: ``parent`` and ``child`` are candidates (``child``
        None when nothing new was proposed), ``proposed`` the proposed snapshot (None when
        unchanged); ``step`` is the step number and ``optimizer`` the optimizer that
        proposed, whose latest call and graph are recorded with it."""
        if self._writer is None:
            return
        if step != self._step:
            self._step, self._index = step, 0
        record = {
            "step": step,
            "index": self._index,
            "optimizer": type(optimizer).__name__,
            "parent": parent.id,
            "child": None if child is None else child.id,
            "call": _new_log_entry(optimizer, self._marker),
            "before": _encoded(parent.snapshot),
            "after": None if proposed is None else _encoded(proposed),
            "graph": step_graph(optimizer),
        }
        self._index += 1
        self._writer.log_event("proposal", record)

    def close(self) -> None:
        """Close the proposal file (no-op without a run directory)."""
        if self._writer is not None:
            self._writer.close()


def _log_marker(optimizer: Any) -> tuple[int, int]:
    log = getattr(optimizer, "log", None)
    if not log:
        return (0, 0)
    return (len(log), id(log[-1]))


def _new_log_entry(optimizer: Any, marker: tuple[int, int] | None) -> dict[str, Any] | None:
    """The entry the optimizer added to its ``log`` during the step (None if it keeps none)."""
    log = getattr(optimizer, "log", None)
    if not log or _log_marker(optimizer) == marker:
        return None
    entry = log[-1]
    return dict(entry) if isinstance(entry, dict) else {"entry": render_repr(entry)}


def _encoded(snapshot: dict[str, Any]) -> dict[str, Any]:
    try:
        return encode_snapshot(snapshot)
    except (TypeError, ValueError):
        return {path: render_repr(value, max_chars=LABEL_LIMIT) for path, value in snapshot.items()}


def step_graph(optimizer: Any) -> dict[str, Any] | None:
    """The optimizer's trace graph as plain data: nodes (name, kind, description, value) and
    edges (parent name, child name); at most ``MAX_GRAPH_NODES`` nodes."""
    try:
        nodes = list(optimizer.trace_graph.nodes)
    except Exception:  # an optimizer without a graph, or none received this step
        return None
    if not nodes:
        return None
    shown = nodes[:MAX_GRAPH_NODES]
    names = {id(node): node.py_name for node in shown}
    return {
        "nodes": [
            {
                "name": node.py_name,
                "kind": _kind(node),
                "description": _short(node.description or ""),
                "value": _short(_value_text(node)),
            }
            for node in shown
        ],
        "edges": [
            [names[id(parent)], node.py_name]
            for node in shown
            for parent in node.parents
            if id(parent) in names
        ],
        "omitted": len(nodes) - len(shown),
    }


def _kind(node: Any) -> str:
    if isinstance(node, ExceptionNode):
        return "exception"
    if isinstance(node, ParameterNode):
        return "parameter" if node.trainable else "constant"
    if isinstance(node, MessageNode):
        return "operation"
    return "value"


def _value_text(node: Any) -> str:
    """The node's value as bounded text (an output may be too large or odd to print)."""
    return render_text(node.data, max_chars=LABEL_LIMIT + 1)


def _short(text: str) -> str:
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 3] + "..."


def describe_components(trainer: Any, guide: Any) -> dict[str, Any]:
    """Names of the model class, the optimizers and the guide (for ``opto show``/``resume``).

    Args:
        trainer: the algorithm (its ``agent`` and ``optimizers``).
        guide: the run's guide (None: not known).
    """
    agent = type(trainer.agent)
    return {
        "model": f"{agent.__module__}:{agent.__qualname__}",
        "optimizers": [type(o).__name__ for o in getattr(trainer, "optimizers", [])],
        "guide": None if guide is None else type(guide).__name__,
    }
