"""Deterministic node names for a training step, whatever ran before and however many threads.

An optimizer's prompt shows node names (``offset0``, ``add3``, ``batchify0``) and lists code
lines in creation order. Node names come from process-wide counters, so the same step would
give a different prompt after other work, in a resumed process (a second model's parameter is
``offset:1``), or when the batch runs on several threads at once. A different prompt misses
the LLM cache, pays again and may get another reply.

So at each step (``canonical_model_names``) the model's nodes are given names that depend
only on the model: per base name, numbered from 0 in the order they were created. After the batch has
run, the nodes of its outputs are renumbered in a canonical order after them: example by
example, parents before children (``canonical_names``). Prompts are then the same byte for
byte on 1 or 32 threads, after other work and after a resume in the same process.

The process-wide counters are never reset or moved: a node created anywhere, before or
after, gets a name no earlier node of the process had, and other threads are not disturbed.
A model's renumbered nodes and a step's nodes may share a name with a node of another model
or step still alive in the process; the optimizer keeps names unique within a prompt and
applies the reply to the node it showed under each name.

OpenTrace's priority searches match model copies to each other by parameter name, so their
rollouts (``opto.trainer.sampler``) keep the model's names (``fresh_names``): there a model
made after other models of the same class shows ``offset1``.

This reaches into node internals (``_base``, ``_index``, ``_seq``): it belongs with the graph,
and lives here until opto.trace offers it.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def fresh_names(kept: Iterable[Node]) -> dict[str, int]:
    """The first index per base name after the names ``kept`` (the model's nodes) hold.

    ``kept`` keep their names: for model copies that are matched to each other by name
    (OpenTrace's ``remap_update_dict``). The process's counters are not touched.
    """
    start: dict[str, int] = {}
    for item in kept:
        start[item._base] = max(start.get(item._base, 0), item._index + 1)
    return start


def canonical_model_names(kept: Iterable[Node]) -> dict[str, int]:
    """Number ``kept`` (one model's nodes) per base name from 0, in creation order, and
    return the first free index per base name, like ``fresh_names``.

    Nodes that had the same name get the same new one. The model's prompt names then do not
    depend on what else the process created: the second ``Adder()`` of a process shows
    ``offset0`` as the first did, so a resume in the same process sends the same prompts.
    """
    start: dict[str, int] = {}
    renumbered: dict[tuple[str, int], int] = {}
    for item in sorted({id(node): node for node in kept}.values(), key=lambda node: node._seq):
        name = (item._base, item._index)
        if name not in renumbered:
            renumbered[name] = start.get(item._base, 0)
            start[item._base] = renumbered[name] + 1
        item._index = renumbered[name]
    return start


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
