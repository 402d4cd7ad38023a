"""The backward pass: plan the walk from an output, let the propagator deliver the feedback.

``run_backward`` is what ``Node.backward`` does. The walk (which nodes, in which order) is
planned in backward_walk.py; how feedback moves along it is the propagator's business
(``propagate_walk``), so the default propagator's shortcut lives in GraphPropagator, not
here. Like the propagators, this module needs no node class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opto.trace.abstract_node import AbstractNode
from opto.trace.backward_walk import FEEDBACK_ORACLE, BackwardWalk, propagate_node_by_node
from opto.trace.propagators.graph_propagator import GraphPropagator
from opto.trace.propagators.propagators import AbstractPropagator

if TYPE_CHECKING:
    import graphviz


def run_backward(
    output: AbstractNode,
    feedback: Any,
    *,
    propagator: Any = None,
    retain_graph: bool = False,
    visualize: bool = False,
    simple_visualization: bool = True,
    reverse_plot: bool = False,
    print_limit: int = 100,
) -> graphviz.Digraph | None:
    """Propagate ``feedback`` from ``output`` to every parameter it depends on.

    Args:
        output: the node the feedback is about.
        feedback: the feedback (text for the LLM optimizers).
        propagator: how feedback moves from a node to its parents (default: a new
            GraphPropagator). Any object with Trace's ``init_feedback(node, feedback)`` and
            ``propagator(child) -> {parent: feedback}`` works.
        retain_graph: keep the walked nodes usable for another backward pass.
        visualize, simple_visualization, reverse_plot, print_limit: return a Graphviz
            drawing of everything ``output`` was computed from (see Node.backward).
    """
    if propagator is None:
        propagator = GraphPropagator()
    if not output._parents and not output._hidden:
        output._add_feedback(FEEDBACK_ORACLE, propagator.init_feedback(output, feedback))
        return _draw(output, visualize, simple_visualization, reverse_plot, print_limit)
    walk = BackwardWalk.plan(output, feedback)
    if isinstance(propagator, AbstractPropagator):
        propagator.propagate_walk(walk)
    else:
        propagate_node_by_node(walk, propagator)
    if not retain_graph:
        for current in walk.nodes:
            current._backwarded = True
    return _draw(output, visualize, simple_visualization, reverse_plot, print_limit)


def _draw(
    output: AbstractNode,
    visualize: bool,
    simple_visualization: bool,
    reverse_plot: bool,
    print_limit: int,
) -> graphviz.Digraph | None:
    """The drawing of everything ``output`` was computed from (every ancestor), as in Trace:
    branches that received no feedback are drawn too."""
    if not visualize:
        return None
    from opto.trace.viz import draw_nodes  # loads graphviz: only when a drawing is asked for

    nodes: dict[AbstractNode, None] = {output: None}
    stack = [output]
    while stack:
        for parent in stack.pop()._parents:
            if parent not in nodes:
                nodes[parent] = None
                stack.append(parent)
    return draw_nodes(
        list(nodes),
        simple_visualization=simple_visualization,
        reverse_plot=reverse_plot,
        print_limit=print_limit,
    )
