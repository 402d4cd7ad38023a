"""A priority search's memory as JSON, for ``save``/``load`` (see ``opto.trainer.search_state``).

Each candidate is written once (the best candidate is also in a memory): its values by
parameter path, its rollouts (score, score dict, feedback, and input and info when JSON can
hold them; models and output nodes are not kept), when it was made, and the state of its own
optimizer with that optimizer's class. The memories and the exploration candidates of the last
iteration refer to candidates by their position in that list. Loading gives each candidate a
copy of the algorithm's optimizer of the same class, with the saved state.
"""

from __future__ import annotations

import copy
from typing import Any

from opto.trainer.algorithms.candidate_memory import ModuleCandidate
from opto.trainer.checkpoint import decode_snapshot, encode_snapshot
from opto.trainer.search_state import plain, restore
from opto.trainer.snapshots import paths_by_parameter

ROLLOUT_FIELDS = ("x", "info", "score", "score_dict", "feedback")


def memories_to_json(search: Any) -> dict[str, Any]:
    """The memories, exploration candidates and best candidate of ``search`` as JSON data."""
    candidates: list[ModuleCandidate] = []
    index: dict[int, int] = {}

    def ref(candidate: ModuleCandidate) -> int:
        if id(candidate) not in index:
            index[id(candidate)] = len(candidates)
            candidates.append(candidate)
        return index[id(candidate)]

    memories = {
        name: [[plain(-negative), ref(c)] for negative, c in getattr(search, name)]
        for name in ("long_term_memory", "short_term_memory")
    }
    explored = search._exploration_candidates or []
    priorities = search._exploration_candidates_priority or [None] * len(explored)
    state = {
        "memories": memories,
        "exploration": [[plain(p), ref(c)] for p, c in zip(priorities, explored, strict=True)],
        "best": ref(search._best_candidate) if search._best_candidate is not None else None,
    }
    paths = paths_by_parameter(search.agent)
    state["candidates"] = [_candidate_to_json(c, paths) for c in candidates]
    return state


def memories_from_json(search: Any, state: dict[str, Any]) -> None:
    """Rebuild the memories of ``search`` (whose agent and optimizers are set) from ``state``.

    The exploration candidates of the saved iteration are kept; ``train`` puts them back into
    the memory when it resumes, since the rollouts of their next round were not saved.
    """
    parameters = search.agent.named_parameters()
    candidates = [_candidate_from_json(search, data, parameters) for data in state["candidates"]]
    for name, items in state["memories"].items():
        memory = getattr(search, name, None)
        if memory is None:
            continue
        memory.reset()
        for priority, position in items:
            memory.memory.append((-restore(priority), candidates[position]))
    search._exploration_candidates = [candidates[i] for _, i in state["exploration"]]
    search._exploration_candidates_priority = [restore(p) for p, _ in state["exploration"]]
    search._best_candidate = candidates[state["best"]] if state["best"] is not None else None
    search._best_candidate_priority = None


def _candidate_to_json(candidate: ModuleCandidate, paths: dict[int, str]) -> dict[str, Any]:
    values = {paths[id(p)]: value for p, value in candidate.update_dict.items() if id(p) in paths}
    optimizer = candidate.optimizer
    return {
        "values": encode_snapshot(values),
        "rollouts": [{k: plain(r.get(k)) for k in ROLLOUT_FIELDS} for r in candidate.rollouts],
        "created_time": candidate.created_time,
        "optimizer": None
        if optimizer is None
        else {"class": type(optimizer).__name__, "state": optimizer.state_dict()},
    }


def _candidate_from_json(search: Any, data: dict[str, Any], parameters: dict) -> ModuleCandidate:
    values = decode_snapshot(data["values"])
    update = {parameters[path]: value for path, value in values.items() if path in parameters}
    optimizer = None
    if data.get("optimizer"):
        optimizer = _optimizer_like(search, data["optimizer"])
    candidate = ModuleCandidate(search.agent, update, optimizer) if optimizer else None
    if candidate is None:
        candidate = ModuleCandidate(search.agent)
        candidate.update_dict = update
    candidate.created_time = data["created_time"]
    candidate.rollouts = [
        {"module": None, "target": None, **{k: restore(v) for k, v in r.items()}}
        for r in data["rollouts"]
    ]
    return candidate


def _optimizer_like(search: Any, record: dict[str, Any]) -> Any:
    """A copy of the algorithm's optimizer of the recorded class, with the recorded state."""
    base = next(
        (o for o in search._optimizers if type(o).__name__ == record.get("class")),
        search._optimizers[0],
    )
    optimizer = copy.deepcopy(base)
    optimizer.load_state_dict(record.get("state") or {})
    return optimizer
