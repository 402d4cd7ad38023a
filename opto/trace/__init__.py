"""opto.trace: the execution-trace graph (nodes, operators, bundle, modules, backward)."""

from opto.trace import operators, propagators, utils
from opto.trace import overloads as _overloads  # noqa: F401 - attaches operators to Node
from opto.trace.broadcast import apply_op
from opto.trace.bundle import (
    FunModule,
    bundle,
    disable_external_dependencies_check,
    trace_nodes,
)
from opto.trace.containers import Map, NodeContainer, Seq, to_data
from opto.trace.errors import ExecutionError, TraceMissingInputsError
from opto.trace.graph import GRAPH, Graph, name_scope, stop_tracing
from opto.trace.modules import Model, Module, model
from opto.trace.nodes import AbstractNode, ExceptionNode, MessageNode, Node, ParameterNode, node

__all__ = [
    "GRAPH",
    "AbstractNode",
    "ExceptionNode",
    "ExecutionError",
    "FunModule",
    "Graph",
    "Map",
    "MessageNode",
    "Model",
    "Module",
    "Node",
    "NodeContainer",
    "ParameterNode",
    "Seq",
    "TraceMissingInputsError",
    "apply_op",
    "bundle",
    "disable_external_dependencies_check",
    "model",
    "name_scope",
    "node",
    "operators",
    "propagators",
    "stop_tracing",
    "to_data",
    "trace_nodes",
    "utils",
]
