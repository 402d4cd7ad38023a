"""The shape of one backward pass: which nodes it visits, and the node-by-node propagation.

Trace used a heap with a linear membership scan and copied subgraphs at every node. Here the
nodes to visit are collected once, each knows how many of its walked children are still
pending, and a node is handled when the last of them is done: O(nodes + edges), with an
order fixed by the order of parents, so the same program gives the same result.

This module needs no node class (only the fields every node has), so the propagators and
``run_backward`` can use it while the node classes call ``run_backward``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

from opto.trace.abstract_node import AbstractNode
from opto.trace.errors import BackwardError
from opto.trace.graph import Graph


class _FeedbackOracle:
    """The key under which an output stores the user's feedback (one shared object)."""

    __slots__ = ()
    name = py_name = "FEEDBACK_ORACLE"

    def __repr__(self) -> str:
        return "FEEDBACK_ORACLE"


FEEDBACK_ORACLE = _FeedbackOracle()


def walks_into(parent: AbstractNode) -> bool:
    """Whether backward visits ``parent``: an inner node that depends on a parameter.

    Roots (parameters, inputs) only receive feedback; branches without parameters get none,
    unless ``Graph.ALLOW_NESTED_GRAPHS`` is set.
    """
    return bool(parent._parents or parent._hidden) and (
        parent._has_params or Graph.ALLOW_NESTED_GRAPHS
    )


class NodePropagator(Protocol):
    """What ``propagate_node_by_node`` needs of a propagator (Trace's propagator interface)."""

    def init_feedback(self, node: Any, feedback: Any) -> Any:
        """The feedback object the output ``node`` starts with, made from the user's
        ``feedback``."""

    def __call__(self, child: Any) -> dict:
        """``{parent: feedback}`` for the parents of ``child``, from what it received."""


@dataclass(frozen=True)
class BackwardWalk:
    """One backward pass, planned: the output, the feedback and the nodes to visit.

    Attributes:
        output: the node ``backward`` was called on.
        feedback: the user's feedback on it.
        nodes: the inner nodes the pass visits (``output`` first), each once.
        pending: for each of ``nodes``, how many visited children feed it; a node can be
            propagated when all of them are done.
        walk_all: ``Graph.ALLOW_NESTED_GRAPHS`` when the walk was planned (nodes without
            parameters receive feedback too).
    """

    output: AbstractNode
    feedback: Any
    nodes: list[AbstractNode]
    pending: dict[AbstractNode, int]
    walk_all: bool

    @classmethod
    def plan(cls, output: AbstractNode, feedback: Any) -> BackwardWalk:
        """Collect the nodes ``backward`` visits from ``output``; ``feedback`` (the user's
        feedback on ``output``) is kept in the plan for the propagator.

        Raises BackwardError when one of them was backwarded already without retain_graph.
        """
        pending: dict[AbstractNode, int] = {output: 0}
        order = [output]
        stack = [output]
        while stack:
            current = stack.pop()
            if current._backwarded:
                raise BackwardError(
                    f"{current} has been backwarded already and its feedback was consumed; "
                    "pass retain_graph=True to the earlier backward() to propagate through it "
                    "again"
                )
            for parent in current._parents:
                if walks_into(parent):
                    if parent in pending:
                        pending[parent] += 1
                    else:
                        pending[parent] = 1
                        order.append(parent)
                        stack.append(parent)
        return cls(output, feedback, order, pending, Graph.ALLOW_NESTED_GRAPHS)

    def receives(self, target: AbstractNode) -> bool:
        """Whether ``target`` keeps the feedback sent to it (it depends on a parameter)."""
        return target._has_params or self.walk_all

    def deliver(self, target: AbstractNode, sender: AbstractNode, value: Any) -> None:
        """Store ``value`` as feedback from ``sender`` on ``target``."""
        received = target._feedback
        if received is None:
            received = target._feedback = defaultdict(list)
        received[sender].append(value)


def propagate_node_by_node(walk: BackwardWalk, propagator: NodePropagator) -> None:
    """Any propagator's pass: each node, once all its children are done, is asked for the
    feedback of its parents, and its own received feedback is then released.

    Args:
        walk: the planned pass (its output, the user's feedback, the nodes to visit).
        propagator: turns a node's received feedback into its parents' feedback.
    """
    output = walk.output
    output._add_feedback(FEEDBACK_ORACLE, propagator.init_feedback(output, walk.feedback))
    pending = dict(walk.pending)
    ready = [output]
    while ready:
        current = ready.pop()
        propagated = propagator(current)
        current._feedback = None
        for target, value in propagated.items():
            if walk.receives(target):
                walk.deliver(target, current, value)
        for parent in current._parents:
            count = pending.get(parent)
            if count is not None:
                count -= 1
                pending[parent] = count
                if count == 0:
                    ready.append(parent)
