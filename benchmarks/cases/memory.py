"""Memory kept per iteration of a long loop, with and without backward.

Each loop runs on a small workflow (a float model ``w * x + b`` and a string prompt): a
warm-up, then many more iterations; what is still allocated afterwards, divided by the
iterations, is what a parameter keeps alive for every use. gc stays on, as in a real loop.
Each loop and each way of measuring runs in a fresh interpreter, so memory freed by one
measurement cannot hide growth in the next.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from _bench import Options, Reporter, interpreter_command, main

from opto.trace import node

ITERATIONS = 10_000
WARMUP = 500
QUICK_ITERATIONS = 1_000
QUICK_WARMUP = 100
CHUNKS = 10


def new_parameters() -> tuple[Any, Any, Any]:
    weight = node(0.5, trainable=True, name="weight")
    bias = node(1.0, trainable=True, name="bias")
    prompt = node("You are a careful assistant.", trainable=True, name="prompt")
    return weight, bias, prompt


def forward(parameters: tuple[Any, Any, Any], step: int) -> tuple[Any, Any]:
    weight, bias, prompt = parameters
    score = weight * node(float(step % 10)) + bias
    reply = prompt + " Question: " + node(f"what is {step % 10}?")
    return score, reply


def train_step(parameters: tuple[Any, Any, Any], step: int) -> None:
    score, reply = forward(parameters, step)
    score.backward("the score should be higher")
    reply.backward("be more concise")
    for parameter in parameters:
        parameter.zero_feedback()


def forward_step(parameters: tuple[Any, Any, Any], step: int) -> None:
    forward(parameters, step)


LOOPS: dict[str, Callable[[tuple[Any, Any, Any], int], None]] = {
    "train_loop": train_step,
    "forward_loop": forward_step,
}


def resident_bytes() -> int | None:
    """Current RSS (Linux /proc, else psutil if installed, else None)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        pass
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process().memory_info().rss


def _run(step: Callable, parameters: tuple, start: int, count: int) -> None:
    for index in range(start, start + count):
        step(parameters, index)


def measure_time_and_rss(
    report: Reporter, name: str, step: Callable, warmup: int, iterations: int
) -> None:
    parameters = new_parameters()
    _run(step, parameters, 0, warmup)
    gc.collect()
    rss_before = resident_bytes()
    chunk = iterations // CHUNKS
    seconds = []
    for index in range(CHUNKS):
        started = time.perf_counter()
        _run(step, parameters, warmup + index * chunk, chunk)
        seconds.append(time.perf_counter() - started)
    gc.collect()
    rss_after = resident_bytes()
    report.samples(f"{name}/iteration", seconds, "us/iter", scale=1e6 / chunk, compare=True)
    if rss_before is not None and rss_after is not None:
        growth = rss_after - rss_before
        report.value(
            f"{name}/rss", growth / iterations, "B/iter", total_bytes=growth, compare=False
        )
    else:
        report.not_run(f"{name}/rss", "B/iter", "skipped", "no way to read RSS here")
    children = getattr(parameters[0], "children", None)
    if children is not None:
        report.value(f"{name}/param_children", len(children), "count", compare=False)


def measure_traced_memory(
    report: Reporter, name: str, step: Callable, warmup: int, iterations: int
) -> None:
    gc.collect()
    tracemalloc.start()
    try:
        parameters = new_parameters()
        _run(step, parameters, 0, warmup)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        _run(step, parameters, warmup, iterations)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    growth = after - before
    report.value(
        f"{name}/retained",
        growth / iterations,
        "B/iter",
        total_bytes=growth,
        iterations=iterations,
        compare=False,
        target={"max": 1.0, "text": "0 B/iter (< 1 B/iter: no per-iteration growth)"},
    )


PARTS = {"rss": measure_time_and_rss, "retained": measure_traced_memory}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loop", choices=sorted(LOOPS), help="run only this loop, in-process")
    parser.add_argument("--part", choices=sorted(PARTS), help="run only this measurement")


def measure(report: Reporter, options: Options) -> None:
    loop, part = options.extra["loop"], options.extra["part"]
    if loop and part:
        warmup = QUICK_WARMUP if options.quick else WARMUP
        iterations = QUICK_ITERATIONS if options.quick else ITERATIONS
        PARTS[part](report, loop, LOOPS[loop], warmup, iterations)
        return
    for name in [loop] if loop else LOOPS:
        for kind in [part] if part else PARTS:
            command = [*interpreter_command(), __file__, *options.argv]
            command += ["--loop", name, "--part", kind]
            child = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
            sys.stdout.write(child.stdout)
            sys.stdout.flush()
            if child.returncode != 0:
                report.not_run(f"{name}/{kind}", "B/iter", "error", f"exit {child.returncode}")


if __name__ == "__main__":
    main("memory", __doc__.splitlines()[0], measure, add_arguments)
