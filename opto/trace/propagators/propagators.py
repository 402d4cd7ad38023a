"""Propagators: how feedback on a node becomes feedback on its parents.

``backward`` walks the graph once, in reverse topological order, and at each node asks the
propagator for ``{parent: feedback}``. Subclasses say how feedback starts at an output
(``init_feedback``), how a node's incoming feedback is combined (``aggregate``) and what each
parent receives (``_propagate``). Per-operator rules can be registered by op name.
The propagators are typed with ``AbstractNode``: the node classes call ``backward``, which
uses the propagators, so this module does not import them. A propagator is called on
operation outputs (MessageNodes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opto.trace.abstract_node import AbstractNode
from opto.trace.backward_walk import BackwardWalk, propagate_node_by_node
from opto.trace.errors import PropagationError


class AbstractFeedback:
    """Base of feedback objects that add up, so ``sum(feedbacks)`` works.

    Subclasses define ``__add__``; ``0 + feedback`` (how ``sum`` starts) gives the feedback.
    """

    __slots__ = ()

    def __add__(self, other: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __add__")

    def __radd__(self, other: Any) -> Any:
        if isinstance(other, int) and other == 0:
            return self
        return self.__add__(other)


class AbstractPropagator:
    """Calls ``propagate(child)`` and checks the result covers every parent."""

    def __call__(self, child: AbstractNode) -> dict[AbstractNode, Any]:
        """``propagate(child)``, checked: a dict with an entry for every parent of ``child``
        (``PropagationError`` otherwise, naming the propagator and the node)."""
        propagated = self.propagate(child)
        if not isinstance(propagated, Mapping):
            raise PropagationError(
                f"{type(self).__name__} returned {type(propagated).__name__} for {child.name}; "
                "a propagator must return a dict {parent: feedback}"
            )
        for parent in child.parents:
            if parent not in propagated:
                raise PropagationError(
                    f"{type(self).__name__} gave no feedback for parent {parent.name} of "
                    f"{child.name}; a propagator must cover every parent"
                )
        return dict(propagated)

    def propagate(self, child: AbstractNode) -> dict[AbstractNode, Any]:
        """``{parent: feedback}`` for the parents of ``child`` (an operation's output),
        from the feedback it received; subclasses define it."""
        raise NotImplementedError

    def propagate_walk(self, walk: BackwardWalk) -> None:
        """Deliver the feedback of the whole backward pass ``walk`` (``run_backward`` calls
        this).

        The default visits the nodes one by one, children before parents, calling this
        propagator on each. A propagator that can compute every parameter's feedback more
        directly overrides it (GraphPropagator does).
        """
        propagate_node_by_node(walk, self)


class Propagator(AbstractPropagator):
    """Base class of the concrete propagators, with per-operator overrides."""

    def __init__(self) -> None:
        self.override: dict[str, Callable[[AbstractNode], dict[AbstractNode, Any]]] = {}

    def register(
        self,
        operator_name: str,
        propagate_function: Callable[[AbstractNode], dict[AbstractNode, Any]],
    ) -> None:
        """Use ``propagate_function(child)`` for nodes made by the op ``operator_name``."""
        self.override[operator_name] = propagate_function

    def propagate(self, child: AbstractNode) -> dict[AbstractNode, Any]:
        """``{parent: feedback}`` for ``child``: the rule registered for its operator if
        there is one, else this propagator's own ``_propagate``."""
        rule = self.override.get(child.op_name) if self.override else None
        if rule is not None:
            return rule(child)
        return self._propagate(child)

    def init_feedback(self, node: AbstractNode, feedback: Any) -> Any:
        """The feedback object the output ``node`` starts with."""
        raise NotImplementedError

    def aggregate(self, feedback: Mapping[AbstractNode, list]) -> Any:
        """Combine a node's feedback ``{child: [feedback, ...]}`` into one value."""
        raise NotImplementedError

    def _propagate(self, child: AbstractNode) -> dict[AbstractNode, Any]:
        raise NotImplementedError


class SumPropagator(Propagator):
    """Feedback is summed: numbers add up, strings are concatenated."""

    def init_feedback(self, node: AbstractNode, feedback: Any) -> Any:
        return feedback

    def aggregate(self, feedback: Mapping[AbstractNode, list]) -> Any:
        values = [value for received in feedback.values() for value in received]
        if not values:
            return ""
        if all(isinstance(value, str) for value in values):
            return "".join(values)
        if any(isinstance(value, str) for value in values):
            raise PropagationError(
                "SumPropagator cannot add text and numbers together: "
                f"got {[type(value).__name__ for value in values]}"
            )
        return sum(values)

    def _propagate(self, child: AbstractNode) -> dict[AbstractNode, Any]:
        total = self.aggregate(child.feedback)
        targets = {parent: total for parent in child.parents}
        for hidden in child.hidden_dependencies:
            targets[hidden] = total
        return targets
