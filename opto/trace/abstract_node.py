"""AbstractNode: what every node of the trace graph is, before feedback and operators.

A node wraps a value, has a unique name and knows its parents (strongly) and children
(weakly). ``Node`` adds descriptions, feedback and the traced operators. User code uses
``AbstractNode`` for ``isinstance`` checks and type hints (``AbstractNode[str]``), as in Trace.
"""

from __future__ import annotations

import contextvars
import itertools
import weakref
from typing import Any, ClassVar, Generic, TypeVar

from opto.trace.graph import GRAPH
from opto.utils.rendering import render_text

T = TypeVar("T")
"""The type of a node's data (``AbstractNode[T]``)."""

creation_order = itertools.count()
"""Numbers nodes in the order they were made (a node created later has a larger ``_seq``)."""

USED_NODES: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "opto_used_nodes", default=None
)
"""Innermost list collecting the nodes whose ``.data`` is read (see ``bundle.trace_nodes``)."""


IDENTITY_OPERATORS = ("identity", "clone")
"""Operators that pass their input on unchanged; drawings collapse them (simple_visualization)."""


def base_name(name: str) -> str:
    """``"x:3"`` -> ``"x"``; a user name without an index is returned unchanged."""
    base, sep, index = name.rpartition(":")
    return base if sep and index.isdigit() else name


def get_op_name(description: str | None) -> str | None:
    """The operator name in a ``"[name] text"`` description, or None."""
    if description and description.startswith("["):
        end = description.find("]")
        if end > 0:
            return description[1:end]
    return None


class AbstractNode(Generic[T]):
    """A named value in the trace graph with its parents and children.

    Not instantiated directly: make nodes with ``node()``, ``Node`` or ``ParameterNode``.
    """

    __slots__ = (
        "__dict__",
        "__weakref__",
        "_base",
        "_children",
        "_data",
        "_index",
        "_level",
        "_parents",
        "_seq",
    )

    _child_limit = 64

    # What kind of node this is, for the code that walks and draws graphs (backward, the
    # propagators, viz). That code sits below the node classes, which call it, so it asks the
    # node instead of importing ParameterNode or MessageNode for an isinstance check. Each
    # node class sets its own flags, so the answer always equals the isinstance check.
    is_parameter: ClassVar[bool] = False
    """True for ParameterNode (and subclasses): a trainable root value."""
    is_message: ClassVar[bool] = False
    """True for MessageNode (and subclasses, ExceptionNode included): an operation's output."""
    is_exception: ClassVar[bool] = False
    """True for ExceptionNode: an error raised by an operation, kept in the graph."""

    def __init__(self, value: Any, *, name: str | None = None, trainable: bool = False) -> None:
        """Wrap ``value`` (a node given as value is unwrapped and keeps its base name).

        Args:
            value: the data; a node's data is taken (by reference) instead of the node.
            name: base name of the node (``"x"`` gives ``x:0``, ``x:1`` ...); default: the
                name of the data's type, or the given node's base name.
            trainable: accepted for Trace's signature; ``Node`` and ``ParameterNode`` use it.
        """
        if type(self) is AbstractNode:
            raise TypeError("AbstractNode is abstract: create nodes with node(), Node(...)")
        if isinstance(value, AbstractNode):
            name = name or base_name(value.name)
            value = value._data
        self._data = value
        self._base, self._index = GRAPH.reserve(base_name(name) if name else type(value).__name__)
        self._parents: list[AbstractNode] = []
        self._children: list[weakref.ref] | None = None
        self._level = 0
        self._seq = next(creation_order)

    # -- value -----------------------------------------------------------------------------

    @property
    def data(self) -> T:
        """The wrapped value; the read is recorded for bundle's dependency check."""
        used = USED_NODES.get()
        if used is not None:
            used.append(self)
        return self._data

    # -- identity --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """``base:index``, unique among nodes created since the last ``GRAPH.clear()``."""
        return f"{self._base}:{self._index}"

    @property
    def py_name(self) -> str:
        """The name as a Python identifier (``x:0`` -> ``x0``); used in prompts."""
        return f"{self._base.replace(':', '')}{self._index}"

    @property
    def id(self) -> str:
        """The node's index as text (the part of the name after ``:``)."""
        return str(self._index)

    # -- graph structure -------------------------------------------------------------------

    @property
    def parents(self) -> list[AbstractNode]:
        """The nodes this one was computed from (held strongly: a live output keeps its
        graph alive)."""
        return self._parents

    @property
    def children(self) -> list[AbstractNode]:
        """Children that are still alive (links to children are weak)."""
        refs = self._children
        if not refs:
            return []
        return [child for child in (ref() for ref in refs) if child is not None]

    @property
    def creation_index(self) -> int:
        """Where this node stands in the order nodes were created (later nodes: larger)."""
        return self._seq

    @property
    def level(self) -> int:
        """0 for roots, else one more than the deepest parent."""
        return self._level

    @property
    def is_root(self) -> bool:
        """True for a node without parents (a value, a parameter)."""
        return not self._parents

    @property
    def is_leaf(self) -> bool:
        """True for a node without live children."""
        return not self.children

    def lt(self, other: AbstractNode) -> bool:
        """Order deepest first: True when this node is deeper (higher level) than ``other``.

        Not a value comparison (``<`` on nodes is the traced operator); Trace uses this order
        to visit nodes from the output back to the roots.
        """
        return self._level > other._level

    def gt(self, other: AbstractNode) -> bool:
        """The reverse of ``lt``: True when this node is shallower than ``other``."""
        return self._level < other._level

    def __str__(self) -> str:
        data = render_text(self._data)
        return f"{type(self).__name__}: ({self.name}, dtype={type(self._data)}, data={data})"

    __repr__ = __str__
