"""Deterministic node names for a training step, whatever ran before and however many threads.

An optimizer's prompt shows node names (``add3``, ``batchify0``) and lists code lines in
creation order. Both come from process-wide counters, so the same step would give a different
prompt after other work, in a resumed process, or when the batch runs on several threads at
once. A different prompt misses the LLM cache, pays again and may get another reply.

So each step starts from counters that depend only on the model (``fresh_names``), and after
the batch has run, the nodes of its outputs are renumbered in a canonical order: example by
example, parents before children (``canonical_names``). Prompts are then the same byte for
byte on 1 or 32 threads and after a resume.

This reaches into node internals (``_base``, ``_index``, ``_seq``): it belongs with the graph,
and lives here until opto.trace offers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opto.trace.graph import GRAPH
from opto.trace.nodes import Node, ParameterNode


def model_nodes(model: Any) -> list[Node]:
    """The nodes a model holds: its parameters and Node-valued attributes (one level deep)."""
    found: dict[int, Node] = {id(p): p for p in model.parameters()}
    for value in vars(model).values():
        items = value if isinstance(value, (list, tuple)) else [value]
        if isinstance(value, dict):
            items = list(value.values())
        for item in items:
            if isinstance(item, Node):
                found.setdefault(id(item), item)
    return list(found.values())


def fresh_names(kept: Iterable[Node]) -> dict[str, int]:
    """Reset the name counters, then move each past the nodes in ``kept``.

    Returns the first free index per base name: the starting point of this step's names.
    """
    GRAPH.clear()
    start: dict[str, int] = {}
    for item in kept:
        start[item._base] = max(start.get(item._base, 0), item._index + 1)
    for base, first_free in start.items():
        _advance(base, first_free)
    return start


def canonical_names(outputs: Iterable[Node], kept: Iterable[Node], start: dict[str, int]) -> None:
    """Rename the outputs' ancestors in a fixed order (outputs in order, parents first).

    ``kept`` nodes (the model's) keep their names and are not walked through. Indices per base
    name continue from ``start``; creation-order stamps are permuted among the renamed nodes.
    """
    keep = {id(item) for item in kept}
    order: list[Node] = []
    seen: set[int] = set()
    for output in outputs:
        stack: list[tuple[Node, bool]] = [(output, False)]
        while stack:
            current, expanded = stack.pop()
            if expanded:
                order.append(current)
                continue
            if id(current) in seen or id(current) in keep or isinstance(current, ParameterNode):
                continue
            seen.add(id(current))
            stack.append((current, True))
            stack.extend((parent, False) for parent in reversed(current._parents))
    stamps = sorted(item._seq for item in order)
    counters = dict(start)
    for item, stamp in zip(order, stamps, strict=True):
        index = counters.get(item._base, 0)
        counters[item._base] = index + 1
        item._index = index
        item._seq = stamp
    for base, first_free in counters.items():
        _advance(base, first_free)


def _advance(base: str, first_free: int) -> None:
    """Consume counter values until ``base`` would hand out ``first_free`` or more."""
    while GRAPH.count(base) < first_free:
        GRAPH.reserve(base)
