"""Drawing trace graphs with Graphviz.

Building a ``graphviz.Digraph`` needs only the ``graphviz`` Python package; rendering it to
SVG or PNG needs Graphviz's ``dot`` program. Without ``dot``, rendering raises
``GraphvizNotFoundError`` saying how to install it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import graphviz

from opto.trace.errors import GraphvizNotFoundError
from opto.trace.nodes import IDENTITY_OPERATORS, ExceptionNode, MessageNode, Node, ParameterNode
from opto.utils.rendering import render_text


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class NodeVizStyleGuide:
    """Graphviz attributes of a node: shape and label (``py_name``, description, data).

    ``style`` names the style (Trace's argument, kept for subclasses); ``print_limit`` cuts
    the description and value in a label to that many characters.
    """

    def __init__(self, style: str = "default", print_limit: int = 100) -> None:
        self.style = style
        self.print_limit = print_limit

    def get_attrs(self, x: Node) -> dict[str, str]:
        """The Graphviz attributes of node ``x`` (label, shape, fill colour, style)."""
        attrs = {
            "label": self.get_label(x),
            "shape": self.get_node_shape(x),
            "fillcolor": self.get_color(x),
            "style": self.get_style(x),
        }
        return {key: value for key, value in attrs.items() if value}

    def get_label(self, x: Node) -> str:
        """The label of node ``x``: its Python name, description and value, each cut."""
        data = x._data
        if isinstance(data, dict) and "content" in data:
            data = data["content"]
        description = _shorten(x._description, self.print_limit)
        value = _shorten(render_text(data, max_chars=self.print_limit + 1), self.print_limit)
        parts = [x.py_name, description, value]
        return "\\n".join(graphviz.escape(part).replace("\n", "\\n") for part in parts)

    def get_node_shape(self, x: Node) -> str:
        """``box`` for a parameter ``x``, ``ellipse`` for other nodes."""
        return "box" if isinstance(x, ParameterNode) else "ellipse"

    def get_color(self, x: Node) -> str:
        """The fill colour of node ``x``: red for errors, none otherwise."""
        return "firebrick1" if isinstance(x, ExceptionNode) else ""

    def get_style(self, x: Node) -> str:
        """The Graphviz style of node ``x``: filled for errors."""
        return "filled" if isinstance(x, ExceptionNode) else ""


class NodeVizStyleGuideColorful(NodeVizStyleGuide):
    """The style ``backward(visualize=True)`` uses: parameters red boxes, errors bright red.

    ``style`` and ``print_limit`` as for :class:`NodeVizStyleGuide`.
    """

    def __init__(self, style: str = "colorful", print_limit: int = 100) -> None:
        super().__init__(style=style, print_limit=print_limit)

    def get_attrs(self, x: Node) -> dict[str, str]:
        """The Graphviz attributes of node ``x``, with a border colour and width."""
        return {
            "label": self.get_label(x),
            "shape": self.get_node_shape(x),
            "fillcolor": self.get_color(x),
            "color": self.get_border_color(x),
            "style": self.get_style(x),
            "penwidth": "1.2",
        }

    def get_color(self, x: Node) -> str:
        """The fill colour of node ``x``: red for errors, pink for parameters, else blue."""
        if isinstance(x, ExceptionNode):
            return "firebrick1"
        if isinstance(x, ParameterNode):
            return "#FFE5E5"
        return "#DEEBF6"

    def get_border_color(self, x: Node) -> str:
        """The border colour of node ``x``, by the same kinds as the fill."""
        if isinstance(x, ExceptionNode):
            return "black"
        if isinstance(x, ParameterNode):
            return "#FF7E79"
        return "#5C9BD5"

    def get_style(self, x: Node) -> str:
        """Every node ``x`` is drawn filled with a solid border."""
        return "filled,solid"


class TraceDigraph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering explains how to install ``dot`` when missing."""

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound as error:
            raise GraphvizNotFoundError() from error

    def render(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound as error:
            raise GraphvizNotFoundError() from error


def _representative(x: Node, members: dict[Node, None], simple: bool) -> Node:
    """With simple visualization, an identity/clone node is drawn as its input."""
    while (
        simple
        and isinstance(x, MessageNode)
        and x.op_name in IDENTITY_OPERATORS
        and len(x._parents) == 1
        and x._parents[0] in members
    ):
        x = x._parents[0]
    return x


def draw_nodes(
    nodes: Iterable[Node],
    *,
    simple_visualization: bool = True,
    reverse_plot: bool = False,
    print_limit: int = 100,
    style: NodeVizStyleGuide | None = None,
) -> TraceDigraph:
    """A Digraph of ``nodes`` and the parent edges among them, drawn in ``style`` (default:
    the colourful one); ``simple_visualization``, ``reverse_plot`` and ``print_limit`` as
    for :meth:`Node.backward`."""
    members = dict.fromkeys(nodes)
    style = style or NodeVizStyleGuideColorful(print_limit=print_limit)
    digraph = TraceDigraph()
    drawn: dict[Node, None] = {}
    edges: dict[tuple[str, str], None] = {}
    for x in members:
        shown = _representative(x, members, simple_visualization)
        if shown is not x:
            continue
        drawn[x] = None
        for parent in x._parents:
            if parent not in members:
                continue
            source = _representative(parent, members, simple_visualization)
            edge = (x.py_name, source.py_name) if reverse_plot else (source.py_name, x.py_name)
            edges[edge] = None
    for x in drawn:
        digraph.node(x.py_name, **style.get_attrs(x))
    for tail, head in edges:
        digraph.edge(tail, head)
    return digraph
