"""The backward pass: one reverse topological walk from an output to its parameters.

Trace used a heap with a linear membership scan and copied subgraphs at every node. Here the
nodes to visit are collected once, each knows how many of its walked children are still
pending, and a node is handled when the last of them is done: O(nodes + edges), with an
order fixed by the order of parents, so the same program gives the same result.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from opto.trace.errors import BackwardError
from opto.trace.graph import Graph
from opto.trace.nodes import Node

if TYPE_CHECKING:
    import graphviz

    from opto.trace.propagators.propagators import Propagator


class _FeedbackOracle:
    """The key under which an output stores the user's feedback (one shared object)."""

    __slots__ = ()
    name = py_name = "FEEDBACK_ORACLE"

    def __repr__(self) -> str:
        return "FEEDBACK_ORACLE"


FEEDBACK_ORACLE = _FeedbackOracle()


def walks_into(parent: Node) -> bool:
    """Whether backward visits ``parent``: an inner node that depends on a parameter.

    Roots (parameters, inputs) only receive feedback; branches without parameters get none,
    unless ``Graph.ALLOW_NESTED_GRAPHS`` is set.
    """
    return bool(parent._parents or parent._hidden) and (
        parent._has_params or Graph.ALLOW_NESTED_GRAPHS
    )


def _collect(output: Node) -> tuple[list[Node], dict[Node, int]]:
    """Nodes the walk visits and, for each, how many walked children feed it."""
    pending: dict[Node, int] = {output: 0}
    order = [output]
    stack = [output]
    while stack:
        current = stack.pop()
        if current._backwarded:
            raise BackwardError(
                f"{current} has been backwarded already and its feedback was consumed; pass "
                "retain_graph=True to the earlier backward() to propagate through it again"
            )
        for parent in current._parents:
            if walks_into(parent):
                if parent in pending:
                    pending[parent] += 1
                else:
                    pending[parent] = 1
                    order.append(parent)
                    stack.append(parent)
    return order, pending


def run_backward(
    output: Node,
    feedback: Any,
    *,
    propagator: Propagator | None = None,
    retain_graph: bool = False,
    visualize: bool = False,
    simple_visualization: bool = True,
    reverse_plot: bool = False,
    print_limit: int = 100,
) -> graphviz.Digraph | None:
    """Propagate ``feedback`` from ``output`` to every parameter it depends on.

    The other arguments are those of :meth:`Node.backward`: ``propagator``,
    ``retain_graph``, and the drawing options ``visualize``, ``simple_visualization``,
    ``reverse_plot`` and ``print_limit``.
    """
    if propagator is None:
        from opto.trace.propagators.graph_propagator import GraphPropagator

        propagator = GraphPropagator()
    if not output._parents and not output._hidden:
        output._add_feedback(FEEDBACK_ORACLE, propagator.init_feedback(output, feedback))
        return _draw(output, visualize, simple_visualization, reverse_plot, print_limit)

    visited, pending = _collect(output)
    walk_all = Graph.ALLOW_NESTED_GRAPHS
    if _plain_graph_propagator(propagator) and all(n._feedback is None for n in visited):
        _graph_walk(output, feedback, visited, pending, walk_all)
        ready = []
    else:
        output._add_feedback(FEEDBACK_ORACLE, propagator.init_feedback(output, feedback))
        ready = [output]
    while ready:
        current = ready.pop()
        propagated = propagator(current)
        current._feedback = None
        for target, value in propagated.items():
            if target._has_params or walk_all:
                received = target._feedback
                if received is None:
                    received = target._feedback = defaultdict(list)
                received[current].append(value)
        for parent in current._parents:
            count = pending.get(parent)
            if count is not None:
                count -= 1
                pending[parent] = count
                if count == 0:
                    ready.append(parent)
    if not retain_graph:
        for current in visited:
            current._backwarded = True
    return _draw(output, visualize, simple_visualization, reverse_plot, print_limit)


def _plain_graph_propagator(propagator: Propagator) -> bool:
    from opto.trace.propagators.graph_propagator import GraphPropagator

    return type(propagator) is GraphPropagator and not propagator.override


def _graph_walk(
    output: Node, feedback: Any, visited: list[Node], walked: dict[Node, int], walk_all: bool
) -> None:
    """The default propagator's result, computed directly.

    With GraphPropagator every walked node passes on the TraceGraph "this pass, from this
    node down", so no feedback needs to be stored on inner nodes and no order is needed:
    each parameter receives, from each walked child, that child's TraceGraph.
    """
    from opto.trace.propagators.trace_graph import BackwardPass, _single_entry

    backward_pass = BackwardPass(output, feedback)
    for current in visited:
        graph = _single_entry(backward_pass, current, [])
        targets = current._parents
        if current._hidden:
            targets = [*targets, *(h for h in current._hidden if not any(h is p for p in targets))]
        for target in targets:
            if target in walked or not (target._has_params or walk_all):
                continue
            received = target._feedback
            if received is None:
                received = target._feedback = defaultdict(list)
            received[current].append(graph)


def _draw(
    output: Node,
    visualize: bool,
    simple_visualization: bool,
    reverse_plot: bool,
    print_limit: int,
) -> graphviz.Digraph | None:
    """The drawing of everything ``output`` was computed from (every ancestor), as in Trace:
    branches that received no feedback are drawn too."""
    if not visualize:
        return None
    from opto.trace.viz import draw_nodes

    nodes: dict[Node, None] = {output: None}
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
