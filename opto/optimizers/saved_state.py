"""Checking an OptoPrime state read back from a checkpoint before any of it is used.

A damaged or hand-edited checkpoint may hold anything; a state of the wrong shape is refused
with ``ValueError`` and the optimizer is left unchanged.
"""

from __future__ import annotations

from typing import Any


def checked_state(state: dict[str, Any], objective: str) -> tuple[list[dict], str, str]:
    """``(memory, pending_notes, objective)`` of ``state``; ``objective`` when it has none.

    Raises ``ValueError`` when memory is not a list of ``{"variables": dict, "feedback":
    str}`` or the notes or objective are not strings.
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
