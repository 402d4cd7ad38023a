"""Drawing trace graphs with Graphviz.

Building a ``graphviz.Digraph`` needs only the ``graphviz`` Python package; rendering it to
SVG or PNG needs Graphviz's ``dot`` program. Nodes are told apart by their ``is_parameter``
/ ``is_exception`` flags: ``backward(visualize=True)`` draws, so this module is below the node
classes and does not import them. Without ``dot``, rendering raises
``GraphvizNotFoundError`` saying how to install it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import graphviz

from opto.trace.abstract_node import IDENTITY_OPERATORS, AbstractNode
from opto.trace.errors import GraphvizNotFoundError
from opto.utils.rendering import render_text


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class NodeVizStyleGuide:
    """Graphviz attributes of a node: shape and label (``py_name``, description, data).

    Parameters are boxes, other nodes ellipses, exceptions filled red; subclasses change the
    look by overriding the ``get_*`` methods.

    Args:
        style: the style's name, kept on the object for callers that tell styles apart
            (default ``"default"``); the drawing does not depend on it.
        print_limit: the characters of a node's description and of its data shown in its
            label; longer text is cut with "..." (default 100).
    """

    def __init__(self, style: str = "default", print_limit: int = 100) -> None:
        self.style = style
        self.print_limit = print_limit

    def get_attrs(self, x: AbstractNode) -> dict[str, str]:
        """The Graphviz attributes of node ``x`` (label, shape, fill colour, style), without
        the empty ones."""
        attrs = {
            "label": self.get_label(x),
            "shape": self.get_node_shape(x),
            "fillcolor": self.get_color(x),
            "style": self.get_style(x),
        }
        return {key: value for key, value in attrs.items() if value}

    def get_label(self, x: AbstractNode) -> str:
        """The label of node ``x``: its ``py_name``, description and data (a message's
        ``"content"`` when the data is a chat message), the last two cut at ``print_limit``,
        each escaped for Graphviz."""
        data = x._data
        if isinstance(data, dict) and "content" in data:
            data = data["content"]
        description = _shorten(x._description, self.print_limit)
        value = _shorten(render_text(data, max_chars=self.print_limit + 1), self.print_limit)
        parts = [x.py_name, description, value]
        return "\\n".join(graphviz.escape(part).replace("\n", "\\n") for part in parts)

    def get_node_shape(self, x: AbstractNode) -> str:
        """``"box"`` for a parameter node ``x``, else ``"ellipse"``."""
        return "box" if x.is_parameter else "ellipse"

    def get_color(self, x: AbstractNode) -> str:
        """The fill colour of node ``x``: red for an exception, none otherwise."""
        return "firebrick1" if x.is_exception else ""

    def get_style(self, x: AbstractNode) -> str:
        """The Graphviz style of node ``x``: ``"filled"`` for an exception (so its colour
        shows), none otherwise."""
        return "filled" if x.is_exception else ""


class NodeVizStyleGuideColorful(NodeVizStyleGuide):
    """The style ``backward(visualize=True)`` uses: parameters red boxes, errors bright red.

    Other nodes are light blue; every node is filled and outlined.

    Args:
        style: the style's name (default ``"colorful"``).
        print_limit: the characters of a node's description and data shown (default 100).
    """

    def __init__(self, style: str = "colorful", print_limit: int = 100) -> None:
        super().__init__(style=style, print_limit=print_limit)

    def get_attrs(self, x: AbstractNode) -> dict[str, str]:
        """The Graphviz attributes of node ``x``, with a border colour and pen width."""
        return {
            "label": self.get_label(x),
            "shape": self.get_node_shape(x),
            "fillcolor": self.get_color(x),
            "color": self.get_border_color(x),
            "style": self.get_style(x),
            "penwidth": "1.2",
        }

    def get_color(self, x: AbstractNode) -> str:
        """The fill colour of node ``x``: red for an exception, pink for a parameter, light
        blue otherwise."""
        if x.is_exception:
            return "firebrick1"
        if x.is_parameter:
            return "#FFE5E5"
        return "#DEEBF6"

    def get_border_color(self, x: AbstractNode) -> str:
        """The outline colour of node ``x``, a darker shade of its fill (black for an
        exception)."""
        if x.is_exception:
            return "black"
        if x.is_parameter:
            return "#FF7E79"
        return "#5C9BD5"

    def get_style(self, x: AbstractNode) -> str:
        """``"filled,solid"`` for every node ``x``."""
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


def _representative(
    x: AbstractNode, members: dict[AbstractNode, None], simple: bool
) -> AbstractNode:
    """With simple visualization, an identity/clone node is drawn as its input."""
    while (
        simple
        and x.is_message
        and x.op_name in IDENTITY_OPERATORS
        and len(x._parents) == 1
        and x._parents[0] in members
    ):
        x = x._parents[0]
    return x


def draw_nodes(
    nodes: Iterable[AbstractNode],
    *,
    simple_visualization: bool = True,
    reverse_plot: bool = False,
    print_limit: int = 100,
    style: NodeVizStyleGuide | None = None,
) -> TraceDigraph:
    """A Digraph of ``nodes`` and the parent edges among them.

    Args:
        nodes: the nodes to draw; edges to parents outside them are left out.
        simple_visualization: draw identity and clone operations as their input (default
            True).
        reverse_plot: point the edges from each node to its parents (default False: from
            the parents to it).
        print_limit: the characters of a node's description and data shown in its label
            (default 100).
        style: the ``NodeVizStyleGuide`` that styles the nodes (default: the colourful one,
            with ``print_limit``).
    """
    members = dict.fromkeys(nodes)
    style = style or NodeVizStyleGuideColorful(print_limit=print_limit)
    digraph = TraceDigraph()
    drawn: dict[AbstractNode, None] = {}
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
