"""GraphPropagator: every parameter receives the subgraph linking it to the output.

This is the default propagator of Trace's optimizers (OptoPrime reads the TraceGraph to
build its prompt). Each step is O(1) because TraceGraphs are lazy (see trace_graph.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opto.trace.abstract_node import IDENTITY_OPERATORS, AbstractNode
from opto.trace.backward_walk import BackwardWalk
from opto.trace.graph import GRAPH
from opto.trace.propagators.propagators import AbstractFeedback, Propagator
from opto.trace.propagators.trace_graph import BackwardPass, TraceGraph

__all__ = [
    "GRAPH",
    "IDENTITY_OPERATORS",
    "AbstractFeedback",
    "GraphPropagator",
    "TraceGraph",
]


class GraphPropagator(Propagator):
    """Propagates a TraceGraph: what the output was, how it was computed, and the feedback."""

    def init_feedback(self, node: AbstractNode, feedback: Any) -> TraceGraph:
        return TraceGraph.start(node, feedback)

    def aggregate(self, feedback: Mapping[AbstractNode, list]) -> TraceGraph:
        """The union of the TraceGraphs a node received from its children.

        Args:
            feedback: ``{child: [TraceGraph, ...]}``, what the node received.
        """
        received = [graph for graphs in feedback.values() for graph in graphs]
        if len(received) == 1:
            return received[0]
        return TraceGraph.union(received)

    def __call__(self, child: AbstractNode) -> dict[AbstractNode, TraceGraph]:
        """``{parent: TraceGraph}`` for each parent and hidden dependency of ``child``: the
        graph ``child`` received, extended by ``child`` itself. With per-operator rules
        registered, the checked path of ``Propagator`` is taken instead."""
        if self.override:
            return super().__call__(child)
        return self._propagate(child)

    def _propagate(self, child: AbstractNode) -> dict[AbstractNode, TraceGraph]:
        feedback = child._feedback or {}
        graph = self.aggregate(feedback).extended_to(child, feedback)
        targets = {parent: graph for parent in child._parents}
        for hidden in child._hidden:
            targets[hidden] = graph
        return targets

    def propagate_walk(self, walk: BackwardWalk) -> None:
        """The whole pass ``walk`` at once, when that gives what node-by-node propagation
        gives.

        Node by node, every walked node passes on the TraceGraph "this pass, from this node
        down". So no feedback needs to be stored on inner nodes and no order is needed: each
        parameter receives, from each walked child, that child's graph. This holds without
        per-operator rules, when a subclass changes none of the per-node steps, and when no
        walked node carries feedback from an earlier pass (which node-by-node propagation
        would merge in); otherwise the pass goes node by node.
        """
        if (
            self.override
            or not self._steps_are_graph_propagators()
            or any(node._feedback is not None for node in walk.nodes)
        ):
            super().propagate_walk(walk)
            return
        backward_pass = BackwardPass(walk.output, walk.feedback)
        walked = walk.pending
        walk_all = walk.walk_all
        for current in walk.nodes:
            graph = TraceGraph.from_entry(backward_pass, current, [])
            targets = current._parents
            if current._hidden:
                targets = [
                    *targets,
                    *(h for h in current._hidden if not any(h is p for p in targets)),
                ]
            for target in targets:
                if target in walked or not (target._has_params or walk_all):
                    continue
                walk.deliver(target, current, graph)

    def _steps_are_graph_propagators(self) -> bool:
        """Whether this propagator's per-node steps are GraphPropagator's own."""
        cls = type(self)
        return all(
            getattr(cls, step) is getattr(GraphPropagator, step)
            for step in ("__call__", "propagate", "_propagate", "aggregate", "init_feedback")
        )
