"""Propagators: how feedback on a node becomes feedback on its parents.

``backward`` walks the graph once, in reverse topological order, and at each node asks the
propagator for ``{parent: feedback}``. Subclasses say how feedback starts at an output
(``init_feedback``), how a node's incoming feedback is combined (``aggregate``) and what each
parent receives (``_propagate``). Per-operator rules can be registered by op name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opto.trace.errors import PropagationError
from opto.trace.nodes import MessageNode, Node


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

    def __call__(self, child: MessageNode) -> dict[Node, Any]:
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

    def propagate(self, child: MessageNode) -> dict[Node, Any]:
        """``{parent: feedback}`` for every parent of ``child``, from the feedback ``child``
        received; what a propagator defines."""
        raise NotImplementedError


class Propagator(AbstractPropagator):
    """Base class of the concrete propagators, with per-operator overrides."""

    def __init__(self) -> None:
        self.override: dict[str, Callable[[MessageNode], dict[Node, Any]]] = {}

    def register(
        self, operator_name: str, propagate_function: Callable[[MessageNode], dict[Node, Any]]
    ) -> None:
        """Use ``propagate_function(child)`` for nodes made by the op ``operator_name``."""
        self.override[operator_name] = propagate_function

    def propagate(self, child: MessageNode) -> dict[Node, Any]:
        """``{parent: feedback}`` for the parents of ``child``: by the rule registered for
        its operator, if any, else by the propagator's own rule."""
        rule = self.override.get(child.op_name) if self.override else None
        if rule is not None:
            return rule(child)
        return self._propagate(child)

    def init_feedback(self, node: Node, feedback: Any) -> Any:
        """The feedback object the output ``node`` starts with."""
        raise NotImplementedError

    def aggregate(self, feedback: Mapping[Node, list]) -> Any:
        """Combine a node's feedback ``{child: [feedback, ...]}`` into one value."""
        raise NotImplementedError

    def _propagate(self, child: MessageNode) -> dict[Node, Any]:
        raise NotImplementedError


class SumPropagator(Propagator):
    """Feedback is summed: numbers add up, strings are concatenated."""

    def init_feedback(self, node: Node, feedback: Any) -> Any:
        return feedback

    def aggregate(self, feedback: Mapping[Node, list]) -> Any:
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

    def _propagate(self, child: MessageNode) -> dict[Node, Any]:
        total = self.aggregate(child.feedback)
        targets = {parent: total for parent in child.parents}
        for hidden in child.hidden_dependencies:
            targets[hidden] = total
        return targets
