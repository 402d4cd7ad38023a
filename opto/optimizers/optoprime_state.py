"""What an OptoPrime checkpoint holds, and the check a loaded one must pass.

A checkpoint file can be damaged or edited by hand, so a state is checked in full before any
of it replaces the optimizer's: a wrong shape is a ``ValueError`` and changes nothing.
"""

from __future__ import annotations

from typing import Any


def checked_state(state: dict[str, Any], objective: str) -> tuple[list[dict], str, str]:
    """``(memory, pending notes, objective)`` of a saved state, or ``ValueError``.

    Arguments:
        state: what ``OptoPrime.state_dict()`` returned (a missing key keeps its default).
        objective: the optimizer's current objective, kept when the state has none.
    """
    memory = state.get("memory", [])
    notes = state.get("pending_notes", "")
    objective = state.get("objective", objective)
    if not isinstance(memory, list) or not all(_is_memory_entry(e) for e in memory):
        raise ValueError("the optimizer memory must be a list of {variables, feedback}")
    if not isinstance(notes, str) or not isinstance(objective, str):
        raise ValueError("the optimizer's pending_notes and objective must be strings")
    return memory, notes, objective


def _is_memory_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("variables"), dict)
        and isinstance(entry.get("feedback"), str)
    )
