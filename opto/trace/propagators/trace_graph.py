"""TraceGraph: the part of the graph that explains an output, plus the feedback on it.

Trace built a fresh, copied node list at every node of the backward pass (quadratic).
Here a TraceGraph produced by ``backward`` is lazy: it names the backward pass (output and
feedback) and the *entry* nodes whose downstream part it covers. Passing it on to a parent
costs O(1); the node list is built once, when someone reads ``.graph``, in O(nodes + edges)
and in a deterministic order (level, then creation order).

A TraceGraph can also be made explicitly from a list of ``(level, node)`` pairs, as in Trace.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from opto.trace.abstract_node import AbstractNode
from opto.trace.backward_walk import walks_into
from opto.trace.propagators.propagators import AbstractFeedback
from opto.utils.rendering import render_repr

if TYPE_CHECKING:
    import graphviz


class BackwardPass:
    """One call of ``backward``: the output it started from and the user's feedback."""

    __slots__ = ("feedback", "output")

    def __init__(self, output: AbstractNode, feedback: Any) -> None:
        self.output = output
        self.feedback = feedback

    def __repr__(self) -> str:
        return f"BackwardPass(output={self.output.name}, feedback={self.feedback!r})"


def _subgraph(output: AbstractNode, entries: Iterable[AbstractNode]) -> dict[AbstractNode, None]:
    """The nodes between ``entries`` and ``output`` that backward walks, with their parents."""
    walked = {output: None}
    children_in_walk: dict[AbstractNode, list[AbstractNode]] = {}
    stack = [output]
    while stack:
        current = stack.pop()
        for parent in current._parents:
            if walks_into(parent):
                children_in_walk.setdefault(parent, []).append(current)
                if parent not in walked:
                    walked[parent] = None
                    stack.append(parent)
    downstream: dict[AbstractNode, None] = {}
    stack = [entry for entry in entries if entry in walked]
    while stack:
        current = stack.pop()
        if current in downstream:
            continue
        downstream[current] = None
        stack.extend(children_in_walk.get(current, ()))
    result: dict[AbstractNode, None] = {output: None}
    for current in downstream:
        result[current] = None
        for parent in current._parents:
            result[parent] = None
    return result


class TraceGraph(AbstractFeedback):
    """A subgraph (``graph``: list of ``(level, node)``) and the ``user_feedback`` on it."""

    __slots__ = ("_cache", "_explicit", "_explicit_feedbacks", "_parts")

    def __init__(
        self, graph: Iterable[tuple[int, AbstractNode]] | None = None, user_feedback: Any = None
    ):
        self._explicit: dict[AbstractNode, None] = {item[1]: None for item in graph or ()}
        self._explicit_feedbacks: list[Any] = [] if user_feedback is None else [user_feedback]
        self._parts: dict[BackwardPass, frozenset[AbstractNode]] = {}
        self._cache: list[tuple[int, AbstractNode]] | None = None

    @classmethod
    def start(cls, output: AbstractNode, feedback: Any) -> TraceGraph:
        """The TraceGraph ``output`` starts with in a new backward pass on which the user
        gave ``feedback``: the pass, entered at the output itself."""
        graph = cls()
        graph._parts[BackwardPass(output, feedback)] = frozenset((output,))
        return graph

    @classmethod
    def from_entry(
        cls, backward_pass: BackwardPass, entry: AbstractNode, feedbacks: list | None = None
    ) -> TraceGraph:
        """The graph "``backward_pass``, from ``entry`` down to its output".

        This is what every node of a pass sends its parents with the default propagator, so
        it is built without ``__init__`` (the backward pass makes one per walked node).

        Args:
            backward_pass: the pass (output and user feedback).
            entry: the node whose downstream part of the pass the graph covers.
            feedbacks: feedback of explicit graphs carried along (none by default).
        """
        graph = object.__new__(cls)
        graph._explicit = {}
        graph._explicit_feedbacks = [] if feedbacks is None else feedbacks
        graph._parts = {backward_pass: frozenset((entry,))}
        graph._cache = None
        return graph

    # -- reading ---------------------------------------------------------------------------

    @property
    def graph(self) -> list[tuple[int, AbstractNode]]:
        """``(level, node)`` pairs sorted by level, then by creation order."""
        if self._cache is None:
            nodes = dict(self._explicit)
            by_output: dict[AbstractNode, set[AbstractNode]] = {}
            for backward_pass, entries in self._parts.items():
                by_output.setdefault(backward_pass.output, set()).update(entries)
            for output, entries in by_output.items():
                nodes.update(_subgraph(output, entries))
            ordered = sorted(nodes, key=lambda item: (item._level, item._seq))
            self._cache = [(item._level, item) for item in ordered]
        return self._cache

    @property
    def nodes(self) -> list[AbstractNode]:
        """The nodes of ``graph`` without their levels, in the same order."""
        return [item for _, item in self.graph]

    @property
    def feedbacks(self) -> list[tuple[AbstractNode | None, Any]]:
        """Each feedback with the output it was given on (None for explicit graphs)."""
        pairs: list[tuple[AbstractNode | None, Any]] = [
            (None, value) for value in self._explicit_feedbacks
        ]
        pairs.extend((p.output, p.feedback) for p in self._parts)
        return pairs

    @property
    def outputs(self) -> list[AbstractNode]:
        """The outputs whose backward passes this graph covers, each once, in order."""
        return list(dict.fromkeys(p.output for p in self._parts))

    @property
    def user_feedback(self) -> Any:
        """The feedback; feedback given on several outputs is joined, one line per output."""
        pairs = [(output, value) for output, value in self.feedbacks if value is not None]
        distinct = list(dict.fromkeys(_hashable(value) for _, value in pairs))
        if not distinct:
            return None
        if len(distinct) == 1:
            return pairs[0][1]
        lines = []
        for output, value in pairs:
            lines.append(f"{output.py_name}: {value}" if output is not None else f"{value}")
        return "\n".join(dict.fromkeys(lines))

    def __len__(self) -> int:
        return len(self.graph)

    def empty(self) -> bool:
        """Whether this graph has no nodes and no feedback."""
        return not self.graph and self.user_feedback is None

    def __repr__(self) -> str:
        names = ", ".join(item.name for _, item in self.graph[:8])
        more = "" if len(self.graph) <= 8 else f", ... ({len(self.graph)} nodes)"
        return f"TraceGraph(graph=[{names}{more}], user_feedback={self.user_feedback!r})"

    # -- combining -------------------------------------------------------------------------

    def __add__(self, other: Any) -> TraceGraph:
        if other is None or (isinstance(other, int) and other == 0):
            return self
        if not isinstance(other, TraceGraph):
            return NotImplemented
        return TraceGraph.union((self, other))

    @classmethod
    def union(cls, graphs: Iterable[TraceGraph]) -> TraceGraph:
        """The sum of many graphs in one pass (folding ``+`` would copy the entries each time)."""
        merged = cls()
        feedbacks: dict[Any, None] = {}
        entries_by_pass: dict[BackwardPass, set[AbstractNode]] = {}
        for graph in graphs:
            if not isinstance(graph, TraceGraph):
                raise TypeError(f"expected TraceGraph feedback, got {type(graph).__name__}")
            merged._explicit.update(graph._explicit)
            feedbacks.update(dict.fromkeys(map(_hashable, graph._explicit_feedbacks)))
            for backward_pass, entries in graph._parts.items():
                entries_by_pass.setdefault(backward_pass, set()).update(entries)
        merged._explicit_feedbacks = [_unwrap(value) for value in feedbacks]
        merged._parts = {key: frozenset(value) for key, value in entries_by_pass.items()}
        return merged

    __radd__ = __add__

    @classmethod
    def expand(cls, node: AbstractNode) -> TraceGraph:
        """The graph inside ``node`` when it is the output of a ``traceable_code`` bundle.

        Backward runs from the inner output (``node.info["output"]``) with empty feedback, and
        the TraceGraphs the parameters used inside receive are summed; their feedback is then
        restored. For any other node the result is an empty TraceGraph.
        """
        info = node.info if node.is_message else None
        inner = info.get("output") if isinstance(info, dict) else None
        if not isinstance(inner, AbstractNode):
            return cls()
        parameters = sorted(inner.parameter_dependencies, key=lambda item: item._seq)
        saved = [item._feedback for item in parameters]
        for item in parameters:
            item._feedback = None
        try:
            inner.backward("", retain_graph=True)
            received = [g for item in parameters for gs in item.feedback.values() for g in gs]
        finally:
            for item, feedback in zip(parameters, saved, strict=True):
                item._feedback = feedback
        graphs = [graph for graph in received if isinstance(graph, TraceGraph)]
        return cls.union(graphs) if graphs else cls()

    def extended_to(self, child: AbstractNode, received_from: Iterable[AbstractNode]) -> TraceGraph:
        """This graph (what ``child`` received) plus ``child`` and its parents.

        Entries that are ``received_from`` children of ``child`` are covered by ``child``
        itself, so a chain keeps one entry per pass and this stays O(1).
        """
        covered = received_from if isinstance(received_from, (set, dict)) else set(received_from)
        if not self._explicit and len(self._parts) == 1:
            ((backward_pass, entries),) = self._parts.items()
            if len(entries) == 1 and next(iter(entries)) in covered:
                return TraceGraph.from_entry(backward_pass, child, self._explicit_feedbacks)
        extended = TraceGraph()
        if self._explicit:
            extended._explicit = dict(self._explicit)
            extended._explicit[child] = None
            for parent in child._parents:
                extended._explicit[parent] = None
        extended._explicit_feedbacks = self._explicit_feedbacks
        for backward_pass, entries in self._parts.items():
            if len(entries) == 1 and next(iter(entries)) in covered:
                extended._parts[backward_pass] = frozenset((child,))
            else:
                kept = [entry for entry in entries if entry not in covered]
                extended._parts[backward_pass] = frozenset((*kept, child))
        return extended

    def visualize(
        self, simple_visualization: bool = True, reverse_plot: bool = False, print_limit: int = 100
    ) -> graphviz.Digraph:
        """Draw this subgraph with Graphviz (see ``draw_nodes``).

        Args:
            simple_visualization: draw identity and clone operations as their input, so
                copies do not clutter the drawing (default True).
            reverse_plot: point the edges from each node to its parents rather than from
                the parents to it (default False).
            print_limit: the characters of a node's description and of its data shown in
                its label (default 100).
        """
        from opto.trace.viz import draw_nodes

        return draw_nodes(
            self.nodes,
            simple_visualization=simple_visualization,
            reverse_plot=reverse_plot,
            print_limit=print_limit,
        )


class _Unhashable:
    """Wraps an unhashable feedback value so feedbacks can be de-duplicated in order."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unhashable) and other.value == self.value

    def __hash__(self) -> int:
        return hash(render_repr(self.value, max_chars=10_000))


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return _Unhashable(value)
    return value


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, _Unhashable) else value
