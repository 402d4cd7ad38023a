"""Optimizers: read a TraceGraph and feedback, propose and apply new parameter values."""
