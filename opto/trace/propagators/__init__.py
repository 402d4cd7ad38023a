"""Backward-pass rules: the default GraphPropagator and the TraceGraph it passes around."""

from opto.trace.propagators.graph_propagator import GraphPropagator
from opto.trace.propagators.propagators import (
    AbstractPropagator,
    Propagator,
    SumPropagator,
)
from opto.trace.propagators.trace_graph import TraceGraph

__all__ = ["AbstractPropagator", "GraphPropagator", "Propagator", "SumPropagator", "TraceGraph"]
