"""Per-operation overhead: a traced ``+`` against the same ``+`` in plain Python.

Each run is a batch of additions on fresh operands; the result of each is dropped at once, as
in a workflow whose intermediate values go out of scope. Figures are microseconds per op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _bench import Options, Reporter, Stopwatch, main, repeat_runs

from opto.trace import GRAPH, node

OPS_PER_BATCH = 2000
QUICK_OPS_PER_BATCH = 500


def _traced_floats() -> tuple[Any, Any]:
    return node(1.5, trainable=True), node(2.25)


def _traced_strings() -> tuple[Any, Any]:
    return node("hello", trainable=True), "x"


def _plain_floats() -> tuple[Any, Any]:
    return 1.5, 2.25


def _plain_strings() -> tuple[Any, Any]:
    return "hello", "x"


OPERATIONS = {
    "float_add": (_traced_floats, _plain_floats),
    "str_add": (_traced_strings, _plain_strings),
}


def _batch(operands: Callable[[], tuple[Any, Any]], ops: int) -> Callable[[Stopwatch], None]:
    def run(watch: Stopwatch) -> None:
        left, right = operands()
        with watch.phase("batch"):
            for _ in range(ops):
                _ = left + right
        GRAPH.clear()

    return run


def measure(report: Reporter, options: Options) -> None:
    ops = QUICK_OPS_PER_BATCH if options.quick else OPS_PER_BATCH
    repeats = options.repeats_or(full=15, quick=3)
    per_op_us = 1e6 / ops
    target = {"max": 5.0, "text": "<= 5 us per traced op"}
    for name, (traced, plain) in OPERATIONS.items():
        medians = {}
        for kind, operands in (("traced", traced), ("plain", plain)):
            samples = repeat_runs(
                _batch(operands, ops),
                repeats=repeats,
                budget=options.budget,
                cap=options.cap,
                warmup=1,
            )
            medians[kind] = report.samples(
                f"{name}/{kind}",
                samples["batch"],
                "us/op",
                scale=per_op_us,
                ops_per_batch=ops,
                **({"target": target} if kind == "traced" else {}),
            )
        report.value(f"{name}/overhead", medians["traced"] - medians["plain"], "us/op")


if __name__ == "__main__":
    main("op_overhead", __doc__.splitlines()[0], measure)
