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

Renaming touches node internals (the name's base and index, the creation stamp), so the
renaming functions are opto.trace's (``opto.trace.renaming``); this module picks the nodes.
"""

from __future__ import annotations

from typing import Any

from opto.trace.nodes import Node
from opto.trace.renaming import canonical_model_names, canonical_names, fresh_names

__all__ = ["canonical_model_names", "canonical_names", "fresh_names", "model_nodes"]


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
