"""Parameter snapshots: a candidate is ``{parameter path: value}``, not a copy of a graph.

Paths are ``Module.named_parameters()`` keys (``"agent.prompt"``, ``"solve"`` for a bundle's
code). A snapshot is plain data: it goes into JSON checkpoints and travels to worker processes
cheaply, where it is applied to the worker's own copy of the model.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from opto.llm.base import BaseLLM
from opto.trace.modules import Module
from opto.utils.errors import OptoError


class SnapshotError(OptoError, KeyError):
    """A snapshot does not fit the model (missing or unknown parameter paths)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def take_snapshot(model: Module) -> dict[str, Any]:
    """The current value of every parameter of ``model``, by path (values are deep copies,
    so later updates of the model do not change the snapshot)."""
    return {path: copy.deepcopy(p.data) for path, p in model.named_parameters().items()}


def apply_snapshot(model: Module, snapshot: dict[str, Any]) -> None:
    """Write ``snapshot`` into the model's parameters; every path must exist in the model."""
    parameters = model.named_parameters()
    unknown = sorted(set(snapshot) - set(parameters))
    if unknown:
        raise SnapshotError(
            f"the snapshot names parameter(s) {unknown} that {type(model).__name__} does not "
            f"have (it has {sorted(parameters)}); was it taken from another model?"
        )
    for path, value in snapshot.items():
        parameters[path].set_data(copy.deepcopy(value))


def shared_clients(obj: Any) -> dict[int, Any]:
    """``{id: client}`` for the LLM clients ``obj`` holds as attributes (of nested models too).

    Used as a ``deepcopy`` memo, so that copies share the clients: they are thread-safe, and a
    copy would open new connections, restart a scripted client's replies and split a
    client's budget.
    """
    found: dict[int, Any] = {}
    pending, seen = [obj], set()
    while pending:
        current = pending.pop()
        if id(current) in seen or not hasattr(current, "__dict__"):
            continue
        seen.add(id(current))
        for value in vars(current).values():
            if isinstance(value, BaseLLM):
                found[id(value)] = value
            elif isinstance(value, Module):
                pending.append(value)
    return found


def materialize(model: Module, snapshot: dict[str, Any] | None) -> Module:
    """An independent copy of ``model`` with ``snapshot`` applied (its own parameters).

    LLM clients held as attributes are shared, not copied (``shared_clients``).
    """
    duplicate = copy.deepcopy(model, shared_clients(model))
    if snapshot:
        apply_snapshot(duplicate, snapshot)
    return duplicate


def copy_sharing_parameters(model: Module) -> Module:
    """A copy of ``model`` that shares its parameters and LLM clients (Trace's ``copy``).

    Attributes the model sets while running belong to the copy, so concurrent runs of copies
    do not overwrite each other's state, while parameter values are the same objects.
    """
    memo = shared_clients(model)
    memo.update({id(p): p for p in model.parameters()})
    return copy.deepcopy(model, memo)


def snapshot_key(snapshot: dict[str, Any] | None) -> str:
    """A short stable hash of a snapshot (sorted JSON; ``repr`` for values JSON cannot hold)."""
    text = json.dumps(snapshot or {}, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def paths_by_parameter(model: Module) -> dict[int, str]:
    """``id(parameter) -> path`` for every parameter of ``model``: turns an optimizer's
    update dict (keyed by parameter node) into snapshot entries."""
    return {id(p): path for path, p in model.named_parameters().items()}
