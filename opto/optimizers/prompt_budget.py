"""Holding a problem instance to a token budget.

Long values of inputs and intermediate nodes are shortened first, then the intermediate
nodes furthest (in levels) from the outputs are left out together with their code lines.
Every variable, every output and the feedback are always kept in full.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from opto.optimizers.problem import ProblemNodes, render_value
from opto.optimizers.tokens import count_tokens

Render = Callable[[ProblemNodes, dict[str, str], dict[str, str]], str]
_SHORTEST = 40


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...({len(text) - limit} characters omitted)"


def fit_to_budget(problem: ProblemNodes, budget: int, render: Render) -> str:
    """The rendered problem, shrunk until it fits ``budget`` tokens (or nothing else can go)."""
    text = render(problem, {}, {})
    if count_tokens(text) <= budget:
        return text
    shrinkable = {
        name: render_value(node._data) for name, node in {**problem.inputs, **problem.others}.items()
    }
    longest = max((len(value) for value in shrinkable.values()), default=0)
    limit = longest // 2
    values: dict[str, str] = {}
    while limit >= _SHORTEST:
        values = {
            name: _shorten(value, limit) for name, value in shrinkable.items() if len(value) > limit
        }
        text = render(problem, values, {})
        if count_tokens(text) <= budget:
            return text
        limit //= 2
    deepest = max((n._level for n in problem.outputs.values()), default=0)
    by_distance = sorted(problem.others.values(), key=lambda n: (deepest - n._level, -n._seq))
    keep = len(by_distance)
    while keep > 0:
        keep //= 2
        kept = {n.py_name for n in by_distance[:keep]}
        smaller = _without_others(problem, kept)
        dropped = len(problem.others) - keep
        omitted = {
            "others": f"({dropped} intermediate values further from the outputs are omitted)",
            "code": f"# ({len(problem.code) - len(smaller.code)} earlier lines are omitted)",
        }
        if len(smaller.inputs) < len(problem.inputs):
            count = len(problem.inputs) - len(smaller.inputs)
            omitted["inputs"] = f"({count} inputs of the omitted lines are omitted)"
        text = render(smaller, values, omitted)
        if count_tokens(text) <= budget:
            return text
    return text


def _without_others(problem: ProblemNodes, kept: set[str]) -> ProblemNodes:
    """The problem with only the ``kept`` intermediate nodes, their lines and their inputs."""
    outputs = set(problem.outputs)
    keep_line = [n.py_name in kept or n.py_name in outputs for n in problem.code_nodes]
    used = {
        p.py_name
        for n, keep in zip(problem.code_nodes, keep_line, strict=True)
        if keep
        for p in n._parents
    }
    return dataclasses.replace(
        problem,
        others={name: n for name, n in problem.others.items() if name in kept},
        inputs={name: n for name, n in problem.inputs.items() if name in used},
        code=[line for line, keep in zip(problem.code, keep_line, strict=True) if keep],
        code_nodes=[n for n, keep in zip(problem.code_nodes, keep_line, strict=True) if keep],
    )
