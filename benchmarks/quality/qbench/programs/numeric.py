"""Numeric optimization: trainable floats, feedback from the exact objective."""

from __future__ import annotations

import math
from typing import Any

from opto.trace import node
from qbench.generators import numeric
from qbench.loop import Evaluation


class NumericProgram:
    """Move the variables until the program's output equals the target."""

    def __init__(self, side: Any, task: dict) -> None:
        self.data = task["data"]
        self.variables = [
            node(
                float(value),
                trainable=True,
                name="abcd"[index],
                description="a real number the program uses",
            )
            for index, value in enumerate(self.data["start"])
        ]
        self.initial_loss = self._loss([float(v) for v in self.data["start"]])

    def parameters(self) -> list:
        return list(self.variables)

    def _loss(self, values: list) -> float:
        try:
            output = float(numeric.evaluate(self.data["steps"], values))
        except (TypeError, ValueError, OverflowError):
            return math.inf
        return abs(output - self.data["target"]) if math.isfinite(output) else math.inf

    def evaluate(self) -> Evaluation:
        values = [v.data for v in self.variables]
        loss = self._loss(values)
        tolerance = numeric.tolerance(self.data["target"])
        score = 0.0 if not math.isfinite(loss) else max(0.0, 1.0 - loss / self.initial_loss)
        return Evaluation(
            score,
            loss <= tolerance,
            {"loss": loss if math.isfinite(loss) else None, "values": [repr(v) for v in values]},
        )

    def forward(self) -> tuple[Any, str]:
        output = numeric.evaluate(self.data["steps"], self.variables)
        target = self.data["target"]
        try:
            value = float(output.data)
        except (TypeError, ValueError, OverflowError):
            return output, f"The output {output.data!r} is not a number; it should be {target:.6g}."
        if not math.isfinite(value):
            return output, f"The output is {value}; it should be {target:.6g}."
        gap = value - target
        if abs(gap) <= numeric.tolerance(target):
            return output, f"The output {value:.6g} equals the target {target:.6g}. Done."
        direction = "too large" if gap > 0 else "too small"
        return output, (
            f"The output is {value:.6g} but should be {target:.6g}: it is {direction} by "
            f"{abs(gap):.6g}. Change the variables so that the output equals {target:.6g}."
        )
