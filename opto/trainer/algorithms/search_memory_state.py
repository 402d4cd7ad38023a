"""A priority search's memory in the JSON state ``save`` writes (``opto.trainer.search_state``).

Each candidate is written once (the best candidate is also in a memory): its values by
parameter path, its rollouts (score, score dict, feedback, and the input and info when JSON can
hold them; models and output nodes are not kept), when it was made, and the state of its own
optimizer with that optimizer's class. The memories and the last exploration candidates refer
to candidates by their position in that list. Loading gives each candidate a copy of the
algorithm's optimizer of the same class, with the saved state.
"""

from __future__ import annotations

import copy
from typing import Any

from opto.trainer.algorithms.candidate_memory import ModuleCandidate
from opto.trainer.checkpoint import decode_snapshot, encode_snapshot
from opto.trainer.search_state import plain, restore
from opto.trainer.snapshots import paths_by_parameter

ROLLOUT_FIELDS = ("x", "info", "score", "score_dict", "feedback")


class MemoryState:
    """``_search_state``/``_restore_search_state`` of ``PrioritySearch`` (mixed into it)."""

    def _search_state(self) -> dict[str, Any]:
        candidates: list[ModuleCandidate] = []
        index: dict[int, int] = {}

        def ref(candidate: ModuleCandidate) -> int:
            if id(candidate) not in index:
                index[id(candidate)] = len(candidates)
                candidates.append(candidate)
            return index[id(candidate)]

        memories = {
            name: [[plain(-negative), ref(c)] for negative, c in getattr(self, name)]
            for name in ("long_term_memory", "short_term_memory")
        }
        explored = self._exploration_candidates or []
        priorities = self._exploration_candidates_priority or [None] * len(explored)
        best = self._best_candidate
        state = {
            "memories": memories,
            "exploration": [[plain(p), ref(c)] for p, c in zip(priorities, explored, strict=True)],
            "best": None if best is None else ref(best),
        }
        paths = paths_by_parameter(self.agent)
        state["candidates"] = [candidate_to_json(c, paths) for c in candidates]
        return state

    def _restore_search_state(self, state: dict[str, Any]) -> None:
        """Rebuild the memories; ``train`` puts the last exploration candidates back into the
        memory when it resumes (the rollouts of their next round were not saved)."""
        parameters = self.agent.named_parameters()
        candidates = [
            candidate_from_json(data, self.agent, parameters, self._optimizers)
            for data in state["candidates"]
        ]
        self._make_memories(None, None, getattr(self, "objective_config", None))
        for name, items in state["memories"].items():
            memory = getattr(self, name)
            for priority, position in items:
                memory.memory.append((-restore(priority), candidates[position]))
            memory.memory.sort()
        self._exploration_candidates = [candidates[i] for _, i in state["exploration"]]
        self._exploration_candidates_priority = [restore(p) for p, _ in state["exploration"]]
        best = state["best"]
        self._best_candidate = None if best is None else candidates[best]
        self._resume_requested = True


def candidate_to_json(candidate: ModuleCandidate, paths: dict[int, str]) -> dict[str, Any]:
    """``candidate`` as JSON data (see the module docstring); ``paths`` maps ``id()`` of each
    parameter to its path in the model, the name its value is stored under."""
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


def candidate_from_json(
    data: dict[str, Any], agent: Any, parameters: dict[str, Any], optimizers: list
) -> ModuleCandidate:
    """A candidate of ``agent`` from ``candidate_to_json``'s ``data``.

    ``parameters`` maps parameter paths to the agent's parameter nodes; ``optimizers`` are
    the run's optimizers, copied and given the stored state when the candidate had its own.
    """
    values = decode_snapshot(data["values"])
    update = {parameters[path]: value for path, value in values.items() if path in parameters}
    record = data.get("optimizer")
    if record:
        base = next(
            (o for o in optimizers if type(o).__name__ == record.get("class")), optimizers[0]
        )
        optimizer = copy.deepcopy(base)
        optimizer.load_state_dict(record.get("state") or {})
        candidate = ModuleCandidate(agent, update, optimizer)
    else:
        candidate = ModuleCandidate(agent)
        candidate.update_dict = update
    candidate.created_time = data["created_time"]
    candidate.rollouts = [
        {"module": None, "target": None, **{k: restore(v) for k, v in r.items()}}
        for r in data["rollouts"]
    ]
    return candidate
