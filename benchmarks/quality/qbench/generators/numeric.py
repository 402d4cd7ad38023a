"""Random numeric programs with trainable floats and an exact objective.

In the spirit of the numerical-optimization experiment of the Trace paper: a program of a few
arithmetic steps maps one or two trainable floats to an output, and the objective is the
distance between that output and a target. The target is the program's value at a hidden
solution drawn with the seed, so a solution always exists. The same program runs on plain
floats (for the objective) and on trace nodes (for the graph the optimizer reads).
"""

from __future__ import annotations

import random
from typing import Any


def generate(seed: int) -> dict:
    """A program ``steps`` over ``n`` variables, a hidden solution and the target it reaches."""
    rng = random.Random(f"numeric/{seed}")
    variables = rng.choice([1, 2])
    steps: list[list[Any]] = []
    for index in range(rng.randint(3, 5)):
        if variables == 2 and index == 0:
            steps.append(["add", "var", 1])
            continue
        operation = rng.choice(["add", "sub", "mul", "square"])
        if operation == "square":
            steps.append(["square"])
        elif operation == "mul":
            steps.append(["mul", "const", rng.choice([-3, -2, 2, 3, 0.5])])
        else:
            steps.append([operation, "const", rng.randint(-9, 9)])
    solution = [round(rng.uniform(-5, 5), 1) for _ in range(variables)]
    target = evaluate(steps, solution)
    start = [0.0] * variables
    if abs(evaluate(steps, start) - target) < 1e-9:
        start = [1.0] * variables
    return {"steps": steps, "target": target, "start": start, "hidden_solution": solution}


def evaluate(steps: list, values: list) -> Any:
    """Run the program on ``values`` (floats or trace nodes); the first value starts it."""
    result = values[0]
    for step in steps:
        operation = step[0]
        if operation == "square":
            result = result**2  # not result * result: trace-opt refuses a node used twice in one op
            continue
        operand = values[step[2]] if step[1] == "var" else step[2]
        if operation == "add":
            result = result + operand
        elif operation == "sub":
            result = result - operand
        elif operation == "mul":
            result = result * operand
        else:
            raise ValueError(f"unknown step {step!r}")
    return result


def tolerance(target: float) -> float:
    """Success when the output is within this distance of the target."""
    return 0.01 * max(1.0, abs(target))
