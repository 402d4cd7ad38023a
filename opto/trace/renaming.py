"""Renumbering node names so that a training step's prompt does not depend on the process.

Node names (``offset:0``) come from process-wide counters; a step that runs after other work,
in a resumed process or on several threads would show different names, and so a different
prompt. These functions give a model's nodes, and the nodes a step computed, names that
depend only on the model and the step (see ``opto.trainer.naming`` for how training uses
them). The process-wide counters are never touched: only the renamed nodes change.
"""

from __future__ import annotations

from collections.abc import Iterable

from opto.trace.nodes import Node, ParameterNode


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
