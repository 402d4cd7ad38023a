"""A step's trace graph as SVG, drawn by Graphviz's ``dot`` from the recorded plain data.

The DOT text is built here, from node names and labels passed through ``graphviz.escape``
(so a label can never become an HTML-like label or an attribute), with this module's own
node ids and attributes only: nothing in a run file can make ``dot`` read a file. ``dot``
gets ``DOT_TIMEOUT`` seconds; without it (or past the deadline) there is no drawing, and the
caller says why.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import time

import graphviz

from opto.report.run_files import GraphView
from opto.utils.errors import OptoError

DOT_TIMEOUT = 20.0
REPORT_DRAWING_SECONDS = 120.0
MAX_NODES = 200
MAX_EDGES = 1000
LABEL_LIMIT = 120
STYLE = {
    "parameter": {"shape": "box", "style": "filled", "fillcolor": "#ffe5e5", "color": "#c0392b"},
    "constant": {"shape": "box", "style": "filled", "fillcolor": "#eeeeee", "color": "#777777"},
    "exception": {"shape": "ellipse", "style": "filled", "fillcolor": "#ff6b6b"},
    "operation": {"shape": "ellipse", "style": "filled", "fillcolor": "#deebf7"},
    "value": {"shape": "ellipse", "style": "filled", "fillcolor": "#f5f5f5"},
}


class GraphUnavailableError(OptoError, RuntimeError):
    """The graph could not be drawn (no ``dot``, a timeout or an error of ``dot``)."""


def dot_source(graph: GraphView) -> str:
    """The DOT text of ``graph`` (see the module docstring for why it is safe)."""
    digraph = graphviz.Digraph(graph_attr={"rankdir": "TB"}, node_attr={"fontsize": "10"})
    ids: dict[str, str] = {}
    for position, node in enumerate(graph.nodes[:MAX_NODES]):
        ids[node["name"]] = f"n{position}"
        parts = [_short(node[key]) for key in ("name", "description", "value")]
        style = STYLE.get(node["kind"], STYLE["value"])
        digraph.node(ids[node["name"]], label=_label(parts), **style)
    for parent, child in graph.edges[:MAX_EDGES]:
        if parent in ids and child in ids:
            digraph.edge(ids[parent], ids[child])
    return digraph.source


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= LABEL_LIMIT else flat[: LABEL_LIMIT - 3] + "..."


def _label(parts: list[str]) -> str:
    """Lines of literal text: backslashes doubled (no escape sequence survives), lines joined
    with DOT's ``\\n``, and marked as not HTML."""
    lines = [part.replace("\\", "\\\\") for part in parts if part]
    return graphviz.nohtml("\\n".join(lines))


def graph_svg_uri(graph: GraphView, timeout: float = DOT_TIMEOUT) -> str:
    """``data:image/svg+xml`` URI of the drawing of ``graph`` (``dot`` gets ``timeout``
    seconds); ``GraphUnavailableError`` if it fails."""
    program = shutil.which("dot")
    if program is None:
        raise GraphUnavailableError("Graphviz's dot program is not installed")
    try:
        done = subprocess.run(
            [program, "-Tsvg"],
            input=dot_source(graph).encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GraphUnavailableError(f"dot took more than {timeout:.0f} s") from None
    except OSError as error:
        raise GraphUnavailableError(f"dot could not run: {error}") from None
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip()[:200]
        raise GraphUnavailableError(f"dot failed: {message or done.returncode}")
    return "data:image/svg+xml;base64," + base64.b64encode(done.stdout).decode("ascii")


class GraphDrawer:
    """Draws the graphs of one report within ``total_seconds`` in all, so that a report of
    a run directory full of huge graphs still ends in bounded time."""

    def __init__(self, total_seconds: float = REPORT_DRAWING_SECONDS) -> None:
        self.deadline = time.monotonic() + total_seconds

    def svg_uri(self, graph: GraphView) -> str:
        """The ``data:`` URI of ``graph`` drawn within what is left of the report's time;
        ``GraphUnavailableError`` once that is spent."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise GraphUnavailableError("the time this report may spend drawing graphs ran out")
        return graph_svg_uri(graph, timeout=min(DOT_TIMEOUT, left))
