"""Which parameters a node's value depends on, the question feedback and optimizers ask.

A node knows whether it depends on a parameter at all (a flag ``link_parents`` sets as the
graph is built); which parameters those are is computed on demand by walking the ancestors
that carry the flag, so building the graph costs nothing for it. The walk lives in
``NodeDependencies``, mixed into ``Node``; it tells parameters and operation outputs apart
by the nodes' ``is_parameter`` and ``is_message`` flags, as the other graph walkers below
the node classes do.
"""

from __future__ import annotations

from opto.trace.abstract_node import AbstractNode


class NodeDependencies:
    """The dependency queries of ``Node``: ``depends_on_parameters``,
    ``parameter_dependencies``, ``hidden_dependencies`` and ``expandable_dependencies``."""

    __slots__ = ()

    @property
    def depends_on_parameters(self) -> bool:
        """Whether this node is a parameter or was computed from one (feedback reaches it)."""
        return self._has_params

    @property
    def hidden_dependencies(self) -> frozenset[AbstractNode]:
        """Parameters (ParameterNodes) used inside nested traceable code but not visible as
        parents (only an operation's output can have them)."""
        return self._hidden

    def _ancestors_with_parameters(self) -> list[AbstractNode]:
        """This node and its ancestors that depend on a parameter (one walk, each once)."""
        found: list[AbstractNode] = []
        seen: set[int] = set()
        stack: list[AbstractNode] = [self]
        while stack:
            current = stack.pop()
            if id(current) in seen or not current._has_params:
                continue
            seen.add(id(current))
            found.append(current)
            stack.extend(current._parents)
        return found

    @property
    def parameter_dependencies(self) -> set[AbstractNode]:
        """The parameters (ParameterNodes) this value depends on (computed by walking the
        ancestors)."""
        found: set[AbstractNode] = set()
        for current in self._ancestors_with_parameters():
            if current.is_parameter:
                found.add(current)
            found.update(current._hidden)
        return found

    @property
    def expandable_dependencies(self) -> set[AbstractNode]:
        """Ancestors (or self) that are operation outputs (MessageNodes) whose nested,
        traceable code hides parameters."""
        return {n for n in self._ancestors_with_parameters() if n.is_message and n._hidden}


__all__ = ["NodeDependencies"]
