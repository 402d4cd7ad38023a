"""GraphPropagator: every parameter receives the subgraph linking it to the output.

This is the default propagator of Trace's optimizers (OptoPrime reads the TraceGraph to
build its prompt). Each step is O(1) because TraceGraphs are lazy (see trace_graph.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opto.trace.nodes import GRAPH, IDENTITY_OPERATORS, MessageNode, Node
from opto.trace.propagators.propagators import AbstractFeedback, Propagator
from opto.trace.propagators.trace_graph import TraceGraph

__all__ = [
    "GRAPH",
    "IDENTITY_OPERATORS",
    "AbstractFeedback",
    "GraphPropagator",
    "TraceGraph",
]


class GraphPropagator(Propagator):
    """Propagates a TraceGraph: what the output was, how it was computed, and the feedback."""

    def init_feedback(self, node: Node, feedback: Any) -> TraceGraph:
        return TraceGraph.start(node, feedback)

    def aggregate(self, feedback: Mapping[Node, list]) -> TraceGraph:
        """The union of the TraceGraphs a node received from its children; ``feedback`` maps
        each child to the graphs it sent."""
        received = [graph for graphs in feedback.values() for graph in graphs]
        if len(received) == 1:
            return received[0]
        return TraceGraph.union(received)

    def __call__(self, child: MessageNode) -> dict[Node, TraceGraph]:
        """The TraceGraph each parent (and hidden parameter) of ``child`` receives: what
        ``child`` received, extended by ``child`` itself."""
        if self.override:
            return super().__call__(child)
        return self._propagate(child)

    def _propagate(self, child: MessageNode) -> dict[Node, TraceGraph]:
        feedback = child._feedback or {}
        graph = self.aggregate(feedback).extended_to(child, feedback)
        targets = {parent: graph for parent in child._parents}
        for hidden in child._hidden:
            targets[hidden] = graph
        return targets
