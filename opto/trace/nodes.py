"""Nodes of the trace graph: the values a workflow computes and how they were computed.

A node holds strong references to its parents only. Links to children are weak, so an
output that the user drops frees its whole graph, and a parameter used in millions of
forward passes holds no memory for them.
"""

from __future__ import annotations

import copy
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from opto.trace.abstract_node import (
    USED_NODES,
    AbstractNode,
    T,
    base_name,
    creation_order,
    get_op_name,
)
from opto.trace.display import node_html
from opto.trace.graph import GRAPH, NAME_SCOPES, Graph
from opto.utils.rendering import render_text
from opto.utils.user_warnings import warn_user

if TYPE_CHECKING:
    import graphviz

    from opto.trace.propagators.propagators import Propagator

__all__ = [
    "GRAPH",
    "IDENTITY_OPERATORS",
    "NAME_SCOPES",
    "USED_NODES",
    "AbstractNode",
    "ExceptionNode",
    "Graph",
    "MessageNode",
    "Node",
    "ParameterNode",
    "T",
    "get_op_name",
    "node",
]

IDENTITY_OPERATORS = ("identity", "clone")
"""Operators that pass their input on unchanged; drawings collapse them (simple_visualization)."""


def _with_constraint(description: str | None, constraint: str | None) -> str | None:
    """Map Trace's old ``constraint=`` argument onto the description."""
    if constraint is None:
        return description
    warn_user(
        "constraint= is deprecated; the description now holds the constraint text",
        DeprecationWarning,
    )
    return constraint if description is None else f"{description}\n{constraint}"


def link_parents(child: Node, parents: list[Node]) -> None:
    """Make ``parents`` the parents of ``child``: level, parameter flag, weak child links.

    A parent's list of weak child references is pruned of dead ones whenever it doubles past
    the live count, so it stays bounded at amortised O(1) cost per link.
    """
    child._parents = parents
    level = 0
    has_params = bool(child._hidden)
    child_ref = weakref.ref(child)
    for parent in parents:
        refs = parent._children
        if refs is None:
            parent._children = [child_ref]
        else:
            refs.append(child_ref)
            if len(refs) > parent._child_limit:
                _prune_children(parent)
        if parent._level >= level:
            level = parent._level + 1
        if parent._has_params:
            has_params = True
    child._level = level
    child._has_params = has_params


def _prune_children(parent: Node) -> None:
    live = [ref for ref in parent._children if ref() is not None]
    parent._children = live
    parent._child_limit = max(64, 2 * len(live))


def new_root(value: Any, base: str | None = None) -> Node:
    """A plain Node (named ``base`` or after the value's type), built without ``__init__``."""
    result = _new_object(Node)
    result._data = value
    result._base, result._index = GRAPH.reserve(type(value).__name__ if base is None else base)
    result._parents = []
    result._children = None
    result._feedback = None
    result._backwarded = False
    result._level = 0
    result._has_params = False
    result._description = "[Node]"
    result._seq = next(creation_order)
    return result


_new_object = object.__new__


class Node(AbstractNode[T]):
    """A value in the trace graph. ``node.data`` is the value; ``parents`` how it was made."""

    __slots__ = ("_backwarded", "_description", "_feedback", "_has_params")

    _default_prefix = "[Node]"
    # Rarely changed, so kept as class defaults rather than set on every new node.
    _info: dict | None = None
    _hidden: frozenset = frozenset()
    trainable = False

    def __init__(
        self,
        value: Any,
        *,
        name: str | None = None,
        trainable: bool = False,
        description: str | None = None,
        info: dict | None = None,
        constraint: str | None = None,
    ) -> None:
        """Wrap ``value`` (a node given as value is unwrapped, as in Trace).

        Args:
            value: the data.
            name: base name (default: the type of the data).
            trainable: mark the node trainable (``node(..., trainable=True)`` makes a
                ParameterNode, which is what optimizers look for).
            description: text shown to optimizers (the node's constraint).
            info: free-form metadata.
            constraint: Trace 0.1's name for the description (deprecated).
        """
        description = _with_constraint(description, constraint)
        super().__init__(value, name=name)
        self._feedback: defaultdict | None = None
        self._backwarded = False
        self._description = self._prefixed(description)
        self._has_params = False
        if info is not None:
            self._info = info
        if trainable:
            self.trainable = True

    def _prefixed(self, description: str | None) -> str:
        if not description:
            return self._default_prefix
        if get_op_name(description) is not None:
            return description
        return f"{self._default_prefix} {description}"

    # -- value -----------------------------------------------------------------------------

    def _set(self, value: Any) -> None:
        """Replace the value (optimizers use this to write a new parameter value)."""
        self._data = value.data if isinstance(value, Node) else value

    @property
    def type(self) -> type:
        """The type of the value."""
        return type(self._data)

    @property
    def info(self) -> dict | None:
        """Free-form metadata given when the node was made (None if none); assignable."""
        return self._info

    @info.setter
    def info(self, value: dict | None) -> None:
        self._info = value

    @property
    def description(self) -> str | None:
        """The description without its ``[op]`` prefix; None when there is none."""
        raw = self._description
        end = raw.find("]") if raw.startswith("[") else -1
        text = raw[end + 1 :].strip() if end >= 0 else raw.strip()
        return text or None

    @property
    def constraint(self) -> str | None:
        """Trace's old name for the description."""
        return self.description

    @property
    def op_name(self) -> str | None:
        """The operation named by the description's ``[op]`` prefix (``add``, a bundled
        function's name), or None for a plain node."""
        return get_op_name(self._description)

    # -- graph structure -------------------------------------------------------------------

    def _ancestors_with_parameters(self) -> list[Node]:
        """This node and its ancestors that depend on a parameter (one walk, each once)."""
        found: list[Node] = []
        seen: set[int] = set()
        stack: list[Node] = [self]
        while stack:
            current = stack.pop()
            if id(current) in seen or not current._has_params:
                continue
            seen.add(id(current))
            found.append(current)
            stack.extend(current._parents)
        return found

    @property
    def parameter_dependencies(self) -> set[ParameterNode]:
        """The parameters this value depends on (computed by walking the ancestors)."""
        found: set[ParameterNode] = set()
        for current in self._ancestors_with_parameters():
            if isinstance(current, ParameterNode):
                found.add(current)
            found.update(current._hidden)
        return found

    @property
    def expandable_dependencies(self) -> set[MessageNode]:
        """Ancestors (or self) whose nested, traceable code hides parameters."""
        return {
            n for n in self._ancestors_with_parameters() if isinstance(n, MessageNode) and n._hidden
        }

    # -- feedback --------------------------------------------------------------------------

    @property
    def feedback(self) -> defaultdict:
        """Feedback received, as ``{child: [feedback, ...]}``."""
        if self._feedback is None:
            self._feedback = defaultdict(list)
        return self._feedback

    def _add_feedback(self, child: Node, feedback: Any) -> None:
        self.feedback[child].append(feedback)

    def zero_feedback(self) -> None:
        """Forget the feedback this node received (optimizers call it between steps)."""
        self._feedback = None

    def backward(
        self,
        feedback: Any = "",
        propagator: Propagator | None = None,
        retain_graph: bool = False,
        visualize: bool = False,
        simple_visualization: bool = True,
        reverse_plot: bool = False,
        print_limit: int = 100,
    ) -> graphviz.Digraph | None:
        """Send ``feedback`` on this output back to every parameter it depends on.

        One reverse topological walk, O(nodes + edges). Returns a ``graphviz.Digraph`` of the
        walked graph when ``visualize`` is True.

        Args:
            feedback: what is said about this output (a score, a sentence, an error text).
            propagator: how feedback is passed from a node to its parents (default: the
                ``GraphPropagator``, which gives each parameter its subgraph).
            retain_graph: keep the graph usable for another backward pass; by default a
                node that was walked refuses a second walk, as in Trace.
            visualize: also draw the walked graph.
            simple_visualization: in the drawing, show identity and clone nodes as their
                input, so the graph shows only real operations.
            reverse_plot: draw edges from outputs to inputs.
            print_limit: characters of each value shown in the drawing.
        """
        from opto.trace.backward import run_backward

        return run_backward(
            self,
            feedback,
            propagator=propagator,
            retain_graph=retain_graph,
            visualize=visualize,
            simple_visualization=simple_visualization,
            reverse_plot=reverse_plot,
            print_limit=print_limit,
        )

    # -- copies ----------------------------------------------------------------------------

    def _copy_without_edges(self, data: Any, base: str, index: int) -> Node:
        duplicate = object.__new__(type(self))
        for slot in _copied_slots(type(self)):
            object.__setattr__(duplicate, slot, getattr(self, slot))
        if hasattr(self, "__dict__"):
            duplicate.__dict__.update(copy.deepcopy(self.__dict__))
        duplicate._data = data
        duplicate._base = base
        duplicate._index = index
        duplicate._parents = []
        duplicate._children = None
        duplicate.__dict__.pop("_child_limit", None)
        duplicate._feedback = None
        duplicate._backwarded = False
        duplicate._level = 0
        duplicate._has_params = isinstance(duplicate, ParameterNode)
        duplicate._info = copy.deepcopy(self._info)
        duplicate._seq = next(creation_order)
        return duplicate

    def __deepcopy__(self, memo: dict) -> Node:
        """A copy with the same name and a deep copy of the data, cut from the graph."""
        duplicate = self._copy_without_edges(
            copy.deepcopy(self._data, memo), self._base, self._index
        )
        memo[id(self)] = duplicate
        return duplicate

    def __copy__(self) -> Node:
        return self._copy_without_edges(self._data, self._base, self._index)

    def detach(self) -> Node:
        """A new root node ``<py_name>_copy:k`` with a deep copy of the data."""
        base, index = GRAPH.reserve(f"{self.py_name}_copy")
        return self._copy_without_edges(copy.deepcopy(self._data), base, index)

    def clone(self) -> MessageNode:
        """Traced copy (``[clone]`` op, deep-copies the data)."""
        from opto.trace import operators

        return operators.clone(self)

    def __getstate__(self) -> dict:
        state = {slot: getattr(self, slot) for slot in _copied_slots(type(self))}
        state["_children"] = None
        state["_feedback"] = None
        state["__dict__"] = dict(getattr(self, "__dict__", {}))
        return state

    def __setstate__(self, state: dict) -> None:
        extra = state.pop("__dict__", {})
        for key, value in state.items():
            object.__setattr__(self, key, value)
        self.__dict__.update(extra)

    # -- plain-Python protocol (untraced) --------------------------------------------------

    def _repr_html_(self) -> str:
        """A table of the node for notebooks (``repr`` stays Trace's text form)."""
        return node_html(self)

    def __eq__(self, other: object) -> Any:
        """Compares the data, untraced (use ``eq()`` for a traced comparison)."""
        if isinstance(other, Node):
            other = other._data
        return self._data == other

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        return bool(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, item: Any) -> bool:
        if isinstance(item, Node):
            item = item._data
        return item in self._data


def _copied_slots(cls: type) -> list[str]:
    slots: list[str] = []
    for klass in cls.__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if slot not in ("__dict__", "__weakref__") and slot not in slots:
                slots.append(slot)
    return slots


class ParameterNode(Node):
    """A trainable root value (prompt, number, code) that optimizers rewrite.

    Made by ``node(value, trainable=True)``. ``value`` is the initial value and ``name`` the
    base name; ``trainable=False`` freezes it (optimizers skip it); ``description`` tells
    the optimizer what the value is for (shown as its constraint); ``projections`` are
    applied to every value an optimizer proposes (e.g. formatting code); ``info`` is free-form
    metadata; ``constraint`` is Trace 0.1's name for ``description``.
    """

    __slots__ = ("_projections",)

    _default_prefix = "[ParameterNode]"

    def __init__(
        self,
        value: Any,
        *,
        name: str | None = None,
        trainable: bool = True,
        description: str | None = None,
        projections: list | None = None,
        info: dict | None = None,
        constraint: str | None = None,
    ) -> None:
        super().__init__(
            value,
            name=name,
            trainable=trainable,
            description=_with_constraint(description, constraint),
            info=info,
        )
        self._has_params = True
        self._projections = list(projections or [])

    @property
    def projections(self) -> list:
        """The projections applied to proposed values, in order."""
        return self._projections


def _as_input_dict(inputs: Mapping[str, Node] | Iterable[Node]) -> dict[str, Node]:
    if isinstance(inputs, Mapping):
        named = dict(inputs)
    else:
        named = {}
        for item in inputs:
            if not isinstance(item, Node):
                raise TypeError(f"inputs must be nodes, got {type(item).__name__}: {item!r}")
            named[item.name] = item
    for key, item in named.items():
        if not isinstance(item, Node):
            raise TypeError(f"input {key!r} must be a node, got {type(item).__name__}")
    return named


class MessageNode(Node):
    """The output of an operation; its parents are the operation's inputs.

    ``value`` is the result; ``inputs`` the operation's inputs, by argument name (a list is
    named by the nodes' names); ``description`` starts with ``[op]``, the operation's name,
    and may say what it does; ``name`` is the base name (default: the operation's);
    ``info`` is metadata (filled with the function's name when not given); ``constraint``
    is Trace 0.1's name for ``description``. Edges are recorded only while tracing is on.
    """

    __slots__ = ("_inputs", "_op")

    _default_prefix = "[MessageNode]"

    def __init__(
        self,
        value: Any,
        *,
        inputs: Mapping[str, Node] | Iterable[Node],
        description: str | None,
        name: str | None = None,
        info: dict | None = None,
        constraint: str | None = None,
    ) -> None:
        description = _with_constraint(description, constraint)
        super().__init__(
            value,
            name=name or get_op_name(description) or "message",
            description=description,
            info=info,
        )
        self._op = None
        self._inputs: dict[str, Node] = {}
        if Graph.TRACE:
            self._inputs = _as_input_dict(inputs)
            link_parents(self, list(dict.fromkeys(self._inputs.values())))

    @property
    def inputs(self) -> dict[str, Node]:
        """The operation's named inputs (a copy)."""
        return dict(self._inputs)

    @property
    def info(self) -> dict:
        """Metadata of the operation (at least ``fun_name``), computed on first access."""
        if self._info is None:
            op = self._op
            if op is None:
                self._info = {"fun_name": self.op_name}
            else:
                self._info = op.node_info()
        return self._info

    @info.setter
    def info(self, value: dict | None) -> None:
        self._info = value

    @property
    def hidden_dependencies(self) -> frozenset[ParameterNode]:
        """Parameters used inside nested traceable code but not visible as parents."""
        return self._hidden

    def _set_hidden_dependencies(self, parameters: Iterable[ParameterNode]) -> None:
        self._hidden = frozenset(parameters)
        if self._hidden:
            self._has_params = True


class ExceptionNode(MessageNode):
    """An error raised by an operation, kept in the graph so it can receive feedback.

    ``value`` is the exception (its ``(Type) message`` text becomes the node's data);
    ``inputs``, ``description``, ``name``, ``info`` and ``constraint`` are as for
    :class:`MessageNode`.
    """

    __slots__ = ("_exception",)

    _default_prefix = "[ExceptionNode]"

    def __init__(
        self,
        value: BaseException,
        *,
        inputs: Mapping[str, Node] | Iterable[Node],
        description: str | None = None,
        name: str | None = None,
        info: dict | None = None,
        constraint: str | None = None,
    ) -> None:
        self._exception = value if isinstance(value, BaseException) else None
        text = format_exception_data(value) if isinstance(value, BaseException) else value
        description = _with_constraint(description, constraint)
        super().__init__(
            text,
            inputs=inputs,
            description=description or "[ExceptionNode] An error raised by an operation.",
            name=name or "exception",
            info=info,
        )

    @property
    def exception(self) -> BaseException | None:
        """The original exception object (None when the node was made from text)."""
        return self._exception

    def create_feedback(self, style: str = "simple") -> str:
        """The error as feedback text; ``style`` ``"simple"`` is the message, ``"full"`` adds
        the code with the failing line marked."""
        if style == "simple":
            return self._data
        if style == "full":
            return (self._info or {}).get("error_comment") or self._data
        raise ValueError(f"style must be 'simple' or 'full', got {style!r}")


def format_exception_data(error: BaseException) -> str:
    """``"(TypeError) message"``; non-builtin classes are shown as ``module.Class``."""
    cls = type(error)
    type_name = (
        cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    return f"({type_name}) {render_text(error)}"


def node(
    data: Any,
    name: str | None = None,
    trainable: bool = False,
    description: str | None = None,
    constraint: str | None = None,
    info: dict | None = None,
) -> Node:
    """Wrap a value as a node; ``trainable=True`` makes a new ParameterNode.

    A node passed in is returned unchanged unless ``trainable`` is set, in which case a new
    parameter is made from its data, keeping its base name.

    Args:
        data: the value (or a node).
        name: base name (default: the type of the value); nodes get ``name:index`` names.
        trainable: make a ParameterNode, which optimizers update.
        description: what the value is for, shown to optimizers.
        constraint: Trace 0.1's name for ``description``.
        info: free-form metadata.
    """
    description = _with_constraint(description, constraint)
    if trainable:
        if isinstance(data, Node):
            name = name or base_name(data.name)
            description = description or data.description
            data = data._data
        return ParameterNode(data, name=name, trainable=True, description=description, info=info)
    if isinstance(data, Node):
        if name is not None:
            warn_user(f"node() got an existing node ({data.name}); the name {name!r} is ignored")
        return data
    return Node(data, name=name, description=description, info=info)


def __getattr__(name: str) -> Any:
    """Trace exposed the drawing style guides from this module; they live in viz.py."""
    if name in ("NodeVizStyleGuide", "NodeVizStyleGuideColorful"):
        from opto.trace import viz

        return getattr(viz, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
