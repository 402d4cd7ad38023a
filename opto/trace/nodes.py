"""Nodes of the trace graph: the values a workflow computes and how they were computed.

A node holds strong references to its parents only. Links to children are weak, so an
output that the user drops frees its whole graph, and a parameter used in millions of
forward passes holds no memory for them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from opto.trace.abstract_node import (
    IDENTITY_OPERATORS,
    USED_NODES,
    AbstractNode,
    T,
    base_name,
    get_op_name,
)
from opto.trace.backward import run_backward
from opto.trace.code_spec import CodeSpec
from opto.trace.display import node_html
from opto.trace.graph import GRAPH, NAME_SCOPES, Graph
from opto.trace.node_arguments import as_input_dict, format_exception_data, with_constraint
from opto.trace.node_dependencies import NodeDependencies
from opto.trace.node_fields import NodeCopying, link_parents, new_node
from opto.trace.propagators.propagators import AbstractPropagator
from opto.utils.user_warnings import warn_user

if TYPE_CHECKING:
    import graphviz

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


def new_root(value: Any, base: str | None = None) -> Node:
    """A plain Node (named ``base`` or after the value's type), built without ``__init__``."""
    return new_node(Node, value, type(value).__name__ if base is None else base, "[Node]")


class Node(NodeCopying, NodeDependencies, AbstractNode[T]):
    """A value in the trace graph. ``node.data`` is the value; ``parents`` how it was made.

    Copying and pickling come from ``NodeCopying`` (opto.trace.node_fields), the parameters
    a node depends on from ``NodeDependencies`` (opto.trace.node_dependencies).
    """

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
        description = with_constraint(description, constraint)
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

    def set_data(self, value: Any) -> None:
        """Replace the value (optimizers write a new parameter value with it).

        Args:
            value: the new value; a node's data is taken instead of the node.
        """
        self._data = value.data if isinstance(value, Node) else value

    def _set(self, value: Any) -> None:
        """Trace's name for ``set_data`` (Trace code and optimizers call it)."""
        self.set_data(value)

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

    # -- code ------------------------------------------------------------------------------

    @property
    def code_spec(self) -> CodeSpec | None:
        """What code this node holds, when it is a code parameter (see ParameterNode)."""
        return None

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
        propagator: AbstractPropagator | None = None,
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


class ParameterNode(Node):
    """A trainable root value (prompt, number, code) that optimizers rewrite.

    Made by ``node(value, trainable=True)``. ``value`` is the initial value and ``name`` the
    base name; ``trainable=False`` freezes it (optimizers skip it); ``description`` tells
    the optimizer what the value is for (shown as its constraint); ``projections`` are
    applied to every value an optimizer proposes (e.g. formatting code); ``info`` is free-form
    metadata; ``constraint`` is Trace 0.1's name for ``description``.
    """

    __slots__ = ("_code_spec", "_projections")

    _default_prefix = "[ParameterNode]"
    is_parameter = True

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
        code_spec: CodeSpec | None = None,
    ) -> None:
        """A parameter; see ``Node`` for the arguments shared with it.

        Args:
            projections: functions a new value is passed through before it is set.
            code_spec: what code the value is, for a bundle's code parameter. A parameter
                whose name contains ``__code`` (Trace's convention for code made by hand)
                gets one read from the value.
        """
        super().__init__(
            value,
            name=name,
            trainable=trainable,
            description=with_constraint(description, constraint),
            info=info,
        )
        self._has_params = True
        self._projections = list(projections or [])
        if code_spec is None and "__code" in self._base:
            code_spec = CodeSpec.from_source(self._data)
        self._code_spec = code_spec

    @property
    def projections(self) -> list:
        """The projections applied to proposed values, in order."""
        return self._projections

    @property
    def code_spec(self) -> CodeSpec | None:
        """The description of the code this parameter holds, or None for other values."""
        return self._code_spec

    def __setstate__(self, state: dict) -> None:
        """Also reads parameters pickled before code parameters had a ``CodeSpec`` (their
        policy was an ``execution_policy`` attribute)."""
        super().__setstate__(state)
        if "_code_spec" not in state:
            policy = self.__dict__.pop("execution_policy", None)
            spec = CodeSpec.from_source(self._data) if "__code" in self._base else None
            if spec is not None:
                spec.policy = policy
            self._code_spec = spec


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
    is_message = True

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
        description = with_constraint(description, constraint)
        super().__init__(
            value,
            name=name or get_op_name(description) or "message",
            description=description,
            info=info,
        )
        self._op = None
        self._inputs: dict[str, Node] = {}
        if Graph.TRACE:
            self._inputs = as_input_dict(inputs, Node)
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
    is_exception = True

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
        description = with_constraint(description, constraint)
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
    description = with_constraint(description, constraint)
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
