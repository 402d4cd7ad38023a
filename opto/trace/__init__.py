"""opto.trace: the execution-trace graph (nodes, operators, backward) of opto."""

from opto.trace import operators
from opto.trace import overloads as _overloads  # noqa: F401 - attaches operators to Node
from opto.trace.errors import ExecutionError, TraceMissingInputsError
from opto.trace.graph import GRAPH, Graph, name_scope, stop_tracing
from opto.trace.nodes import ExceptionNode, MessageNode, Node, ParameterNode, node

__all__ = [
    "GRAPH",
    "ExceptionNode",
    "ExecutionError",
    "Graph",
    "MessageNode",
    "Node",
    "ParameterNode",
    "TraceMissingInputsError",
    "name_scope",
    "node",
    "operators",
    "stop_tracing",
]
