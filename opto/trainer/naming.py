"""Deterministic node names for a training step, whatever ran before and however many threads.

An optimizer's prompt shows node names (``offset0``, ``add3``, ``batchify0``) and lists code
lines in creation order. Node names come from process-wide counters, so the same step would
give a different prompt after other work, in a resumed process (a second model's parameter is
``offset:1``), or when the batch runs on several threads at once. A different prompt misses
the LLM cache, pays again and may get another reply.

So during a step (``step_names``) the model's nodes carry names that depend only on the
model: per base name, numbered from 0 in the order they were created. After the batch has
run, the nodes of its outputs are renumbered in a canonical order after them: example by
example, parents before children (``canonical_names``). Prompts are then the same byte for
byte on 1 or 32 threads, after other work and after a resume in the same process.

The process-wide counters are never reset or moved: a node created anywhere else, before or
after, still gets a name no earlier node of the process had, and other threads are not
disturbed. When the step ends the model's nodes get their own names back. Names shown in one
prompt may still repeat a name elsewhere in the process; the optimizer keeps names unique
within a prompt and applies the reply to the node it showed under each name.

This reaches into node internals (``_base``, ``_index``, ``_seq``): it belongs with the graph,
and lives here until opto.trace offers it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

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


@contextlib.contextmanager
def step_names(kept: Iterable[Node]) -> Iterator[dict[str, int]]:
    """Give ``kept`` (the model's nodes) canonical names for the block, then their own back.

    Per base name the nodes are numbered from 0 in creation order. Yields the first free
    index per base name: where ``canonical_names`` starts numbering the step's other nodes.
    """
    kept = sorted(kept, key=lambda item: item._seq)
    own = [(item, item._index) for item in kept]
    start: dict[str, int] = {}
    for item in kept:
        item._index = start.get(item._base, 0)
        start[item._base] = item._index + 1
    try:
        yield start
    finally:
        for item, index in own:
            item._index = index


def canonical_names(outputs: Iterable[Node], kept: Iterable[Node], start: dict[str, int]) -> None:
    """Rename the outputs' ancestors in a fixed order (outputs in order, parents first).

    ``kept`` nodes (the model's) keep their names and are not walked through, nor are
    parameters. Indices per base name continue from ``start`` and past any parameter met on
    the way, so no renamed node takes the name of one the prompt also shows; creation-order
    stamps are permuted among the renamed nodes.
    """
    keep = {id(item) for item in kept}
    order: list[Node] = []
    counters = dict(start)
    seen: set[int] = set()
    for output in outputs:
        stack: list[tuple[Node, bool]] = [(output, False)]
        while stack:
            current, expanded = stack.pop()
            if expanded:
                order.append(current)
                continue
            if id(current) in seen or id(current) in keep:
                continue
            seen.add(id(current))
            if isinstance(current, ParameterNode):
                counters[current._base] = max(counters.get(current._base, 0), current._index + 1)
                continue
            stack.append((current, True))
            stack.extend((parent, False) for parent in reversed(current._parents))
    stamps = sorted(item._seq for item in order)
    for item, stamp in zip(order, stamps, strict=True):
        index = counters.get(item._base, 0)
        counters[item._base] = index + 1
        item._index = index
        item._seq = stamp
