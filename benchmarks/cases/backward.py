"""Backward time on three graph shapes of N nodes: a chain, a running sum, a binary tree.

Graph construction and ``backward()`` are timed separately. Sizes run from small to large;
a size whose run is predicted (from the growth so far) to take longer than the cap, or whose
run is stopped at the cap, is reported as skipped with every larger size of that shape.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from _bench import CapExceeded, Options, Reporter, Stopwatch, main, repeat_runs

from opto.trace import GRAPH, node

SIZES = (1000, 5000, 20000)
QUICK_SIZES = (250, 1000)
WARMUP_SIZE = 100
FEEDBACK = "the output should be larger"


def chain(size: int) -> tuple[Any, list[Any]]:
    """``y = y + 1`` repeated ``size`` times from one parameter: depth N, one leaf."""
    parameter = node(0.0, trainable=True)
    output = parameter
    for _ in range(size):
        output = output + 1
    return output, [parameter]


def running_sum(size: int) -> tuple[Any, list[Any]]:
    """N parameters added one after the other into one output: every step has a leaf."""
    parameters = [node(float(index), trainable=True) for index in range(size)]
    output = parameters[0]
    for parameter in parameters[1:]:
        output = output + parameter
    return output, parameters


def binary_tree(size: int) -> tuple[Any, list[Any]]:
    """N parameters combined pairwise with ``+``, level by level: depth log2(N)."""
    parameters = [node(float(index), trainable=True) for index in range(size)]
    level = parameters
    while len(level) > 1:
        paired = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0], parameters


SHAPES: dict[str, Callable[[int], tuple[Any, list[Any]]]] = {
    "chain": chain,
    "running_sum": running_sum,
    "binary_tree": binary_tree,
}


def _one_run(
    shape: Callable[[int], tuple[Any, list[Any]]], size: int
) -> Callable[[Stopwatch], None]:
    def run(watch: Stopwatch) -> None:
        GRAPH.clear()
        with watch.phase("build"):
            output, parameters = shape(size)
        with watch.phase("backward"):
            output.backward(FEEDBACK)
        missing = [p for p in parameters if not p.feedback]
        if missing:
            raise AssertionError(f"{len(missing)} of {len(parameters)} parameters got no feedback")

    return run


def predict_seconds(history: list[tuple[int, float]], size: int) -> float | None:
    """Seconds a run of ``size`` should take, extrapolated from the sizes measured so far.

    With two or more sizes, the growth exponent of the last two (never below linear);
    with one, linear growth; with none, no prediction.
    """
    if not history:
        return None
    last_size, last_seconds = history[-1]
    exponent = 1.0
    if len(history) >= 2:
        first_size, first_seconds = history[-2]
        if first_seconds > 0 and last_seconds > 0:
            exponent = max(
                1.0, math.log(last_seconds / first_seconds) / math.log(last_size / first_size)
            )
    return last_seconds * (size / last_size) ** exponent


def _skip_all(report: Reporter, name: str, size: int, status: str, note: str, **extra) -> None:
    for phase in ("build", "backward"):
        report.not_run(f"{name}/{phase}", "s", status, note, size=size, **extra)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shape", choices=list(SHAPES), action="append", help="only this shape")
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(size) for size in text.split(",")),
        help="comma-separated N values (default 1000,5000,20000; quick 250,1000)",
    )


def measure(report: Reporter, options: Options) -> None:
    sizes = options.extra["sizes"] or (QUICK_SIZES if options.quick else SIZES)
    repeats = options.repeats_or(full=7, quick=3)
    for name in options.extra["shape"] or SHAPES:
        shape = SHAPES[name]
        _one_run(shape, WARMUP_SIZE)(Stopwatch())
        history: list[tuple[int, float]] = []
        stopped = None
        for size in sizes:
            if stopped:
                _skip_all(report, name, size, "skipped", stopped, cap=options.cap)
                continue
            predicted = predict_seconds(history, size)
            if options.cap and predicted and predicted > options.cap:
                note = f"predicted ~{predicted:.3g} s per run, over the {options.cap:g} s cap"
                _skip_all(report, name, size, "skipped", note, cap=options.cap, predicted=predicted)
                stopped = f"a smaller N was predicted to exceed the {options.cap:g} s cap"
                continue
            try:
                samples = repeat_runs(
                    _one_run(shape, size), repeats=repeats, budget=options.budget, cap=options.cap
                )
            except CapExceeded as exceeded:
                _skip_all(report, name, size, "timeout", str(exceeded), cap=options.cap)
                stopped = f"N={size:,} exceeded the {options.cap:g} s cap"
                continue
            build = report.samples(f"{name}/build", samples["build"], "s", size=size)
            target = {"max": 0.2, "text": "< 0.2 s"} if name == "chain" and size == 20000 else None
            backward = report.samples(
                f"{name}/backward",
                samples["backward"],
                "s",
                size=size,
                **({"target": target} if target else {}),
            )
            history.append((size, build + backward))


if __name__ == "__main__":
    main("backward", __doc__.splitlines()[0], measure, add_arguments)
