"""Shared fixtures: every test starts with fresh name counters and tracing on."""

import pytest

from opto.trace.graph import _TRACING, GRAPH


@pytest.fixture(autouse=True)
def fresh_graph():
    GRAPH.clear()
    token = _TRACING.set(True)
    yield
    _TRACING.reset(token)
    GRAPH.clear()
