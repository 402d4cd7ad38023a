"""Holding a problem instance to a token budget, with at most three renders of the prompt.

Long values of inputs and intermediate nodes are shortened first, then the intermediate
nodes furthest (in levels) from the outputs are left out together with their code lines.
Every variable, every output and the feedback are always kept in full.

Rendering a 10,000-node problem is the expensive part, so the shrink is planned instead of
searched: the full prompt is rendered and counted once; the tokens each shortening or
omission saves are counted on the pieces themselves (a value, a code line), never by
rendering; the least shrinking plan estimated to fit is rendered (second render). The
estimate counts only the values and code lines a plan removes, not the markup around them,
so it rarely falls short; when it does, the estimates are scaled by what the second render
really saved and the plan fitting the scaled target is rendered (third and last render).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from opto.optimizers.problem import ProblemNodes, render_value
from opto.optimizers.tokens import Tokenizer, count_tokens

Render = Callable[[ProblemNodes, dict[str, str], dict[str, str]], str]
_SHORTEST = 40


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...({len(text) - limit} characters omitted)"


@dataclass(frozen=True)
class _Plan:
    """One way to shrink: values cut at ``limit`` (None: full) and the ``keep`` intermediate
    nodes nearest the outputs kept (None: all); ``saves`` is the estimated token saving."""

    limit: int | None
    keep: int | None
    saves: int


def fit_to_budget(
    problem: ProblemNodes, budget: int, render: Render, tokenizer: Tokenizer | None = None
) -> str:
    """The rendered problem, shrunk until it fits ``budget`` tokens (or nothing else can go).

    Args:
        problem: the classified nodes of the problem.
        budget: the most tokens the rendered problem may have.
        render: ``render(problem, shown_values, omitted_notes)`` gives the problem's text;
            it is called at most three times.
        tokenizer: counts tokens (``opto.optimizers.tokens``; default: ``count_tokens``).
    """
    count = tokenizer or count_tokens
    text = render(problem, {}, {})
    total = count(text)
    if total <= budget:
        return text
    plans = _plans(problem, count)
    if not plans:
        return text
    chosen = _first_fitting(plans, total - budget)
    text = _render_plan(problem, plans[chosen], render)
    shrunk = count(text)
    if shrunk <= budget or chosen == len(plans) - 1:
        return text
    # The estimate fell short: scale it by what the second render really saved.
    saved = total - shrunk
    estimated = max(plans[chosen].saves, 1)
    later = plans[chosen + 1 :]
    if saved <= 0:
        return _render_plan(problem, later[-1], render)
    target = math.ceil((total - budget) * estimated / saved)
    return _render_plan(problem, later[_first_fitting(later, target)], render)


def _first_fitting(plans: list[_Plan], needed: int) -> int:
    """Index of the first (least shrinking) plan saving ``needed`` tokens, else the last."""
    return next((i for i, plan in enumerate(plans) if plan.saves >= needed), len(plans) - 1)


def _plans(problem: ProblemNodes, count: Callable[[str], int]) -> list[_Plan]:
    """Every plan in the order the shrink goes, with its estimated saving.

    Values are cut at half the longest, then a quarter, ... down to 40 characters; then, with
    values at the last cut, half the intermediate nodes are kept, then a quarter, ... none.
    """
    shrinkable = {
        name: render_value(node._data)
        for name, node in {**problem.inputs, **problem.others}.items()
    }
    full = {name: count(value) for name, value in shrinkable.items()}
    longest = max((len(value) for value in shrinkable.values()), default=0)
    plans: list[_Plan] = []
    limit, saved_by_cut = longest // 2, 0
    last_limit: int | None = None
    while limit >= _SHORTEST:
        saved_by_cut = sum(
            full[name] - count(_shorten(value, limit))
            for name, value in shrinkable.items()
            if len(value) > limit
        )
        plans.append(_Plan(limit, None, saved_by_cut))
        last_limit, limit = limit, limit // 2
    by_distance = _by_distance(problem)
    line_of = {id(n): line for n, line in zip(problem.code_nodes, problem.code, strict=True)}
    cost = []  # tokens a node's value (as last cut) and code line stand for
    for node in by_distance:
        value = shrinkable.get(node.py_name, "")
        shown = value if last_limit is None else _shorten(value, last_limit)
        cost.append(count(node.py_name) + count(shown) + count(line_of.get(id(node), "")))
    suffix = [0] * (len(cost) + 1)
    for i in range(len(cost) - 1, -1, -1):
        suffix[i] = suffix[i + 1] + cost[i]
    keep = len(by_distance)
    while keep > 0:
        keep //= 2
        plans.append(_Plan(last_limit, keep, saved_by_cut + suffix[keep]))
    return plans


def _by_distance(problem: ProblemNodes) -> list:
    """Intermediate nodes, nearest the outputs first (later-created first among equals)."""
    deepest = max((n.level for n in problem.outputs.values()), default=0)
    return sorted(problem.others.values(), key=lambda n: (deepest - n.level, -n._seq))


def _render_plan(problem: ProblemNodes, plan: _Plan, render: Render) -> str:
    values: dict[str, str] = {}
    if plan.limit is not None:
        for name, node in {**problem.inputs, **problem.others}.items():
            value = render_value(node._data)
            if len(value) > plan.limit:
                values[name] = _shorten(value, plan.limit)
    if plan.keep is None:
        return render(problem, values, {})
    kept = {n.py_name for n in _by_distance(problem)[: plan.keep]}
    smaller = _without_others(problem, kept)
    dropped = len(problem.others) - plan.keep
    omitted = {
        "others": f"({dropped} intermediate values further from the outputs are omitted)",
        "code": f"# ({len(problem.code) - len(smaller.code)} earlier lines are omitted)",
    }
    if len(smaller.inputs) < len(problem.inputs):
        missing = len(problem.inputs) - len(smaller.inputs)
        omitted["inputs"] = f"({missing} inputs of the omitted lines are omitted)"
    return render(smaller, values, omitted)


def _without_others(problem: ProblemNodes, kept: set[str]) -> ProblemNodes:
    """The problem with only the ``kept`` intermediate nodes, their lines and their inputs."""
    outputs = set(problem.outputs)
    keep_line = [n.py_name in kept or n.py_name in outputs for n in problem.code_nodes]
    used = {
        p.py_name
        for n, keep in zip(problem.code_nodes, keep_line, strict=True)
        if keep
        for p in n.parents
    }
    return dataclasses.replace(
        problem,
        others={name: n for name, n in problem.others.items() if name in kept},
        inputs={name: n for name, n in problem.inputs.items() if name in used},
        code=[line for line, keep in zip(problem.code, keep_line, strict=True) if keep],
        code_nodes=[n for n, keep in zip(problem.code_nodes, keep_line, strict=True) if keep],
    )
