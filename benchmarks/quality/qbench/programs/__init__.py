"""One training program per task family, written against the API opto and trace-opt share."""

from __future__ import annotations

from typing import Any

FAMILIES = ("numeric", "bbh", "instructions", "humaneval", "battleship")


def make_program(side: Any, task: dict, work_dir: str) -> Any:
    """The program of ``task["family"]`` for ``task``, using ``side`` for what differs."""
    family = task["family"]
    if family == "numeric":
        from qbench.programs.numeric import NumericProgram

        return NumericProgram(side, task)
    if family == "bbh":
        from qbench.programs.bbh import ReasoningProgram

        return ReasoningProgram(side, task)
    if family == "instructions":
        from qbench.programs.instructions import InstructionsProgram

        return InstructionsProgram(side, task)
    if family == "humaneval":
        from qbench.programs.humaneval import CodeRepairProgram

        return CodeRepairProgram(side, task, work_dir)
    if family == "battleship":
        from qbench.programs.battleship import BattleshipProgram

        return BattleshipProgram(side, task, work_dir)
    raise ValueError(f"unknown task family {family!r}; known: {', '.join(FAMILIES)}")
