"""What a sandboxed call of a small function costs: cold children vs a warm pool.

The function is ``def f(x): return x + 1``, so the wall time of a call is the sandbox's
overhead. Modes:

- ``cold``: ``SubprocessPolicy()``, each call starts its own child (the behaviour before warm
  pools, and still the default);
- ``warm, child waiting``: ``SubprocessPolicy(warm_workers=1)``, the pool refilled between
  calls (``warm_up()``, not timed): the latency a call sees when a child waits for it;
- ``warm, back to back``: the same policy called in a loop without pauses, so each call may
  wait for the child being started for it (the refill is then the limit);
- throughput: ``--threads`` callers at once, ``max_parallel`` set to the same number, cold and
  with ``warm_workers`` equal to it, reported as evaluations per second.

Each figure is the median over ``--runs`` runs of ``--calls`` calls (per run: the median call
for latencies, calls / wall time for throughput).

    python benchmarks/sandbox_throughput.py
    python benchmarks/sandbox_throughput.py --runs 3 --calls 20 --threads 1 2

Prints one JSON line per measurement, then a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opto.runtime import SubprocessPolicy

CODE = "def f(x):\n    return x + 1\n"


def policy(warm: int, parallel: int | None = None) -> SubprocessPolicy:
    return SubprocessPolicy(echo_output=False, warm_workers=warm, max_parallel=parallel)


def latency_run(sandbox: SubprocessPolicy, calls: int, refill: bool) -> float:
    """The median wall time of one call, in milliseconds, over ``calls`` calls."""
    function = sandbox.load(CODE, "f")
    times = []
    for index in range(calls):
        if refill and not sandbox.warm_up(timeout=30):
            raise RuntimeError("the warm pool did not fill; is the sandbox available here?")
        started = time.perf_counter()
        if function(index) != index + 1:
            raise AssertionError("wrong result")
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def throughput_run(sandbox: SubprocessPolicy, calls: int, threads: int) -> float:
    """Evaluations per second with ``threads`` callers at once."""
    function = sandbox.load(CODE, "f")
    sandbox.warm_up(timeout=30)
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as executor:
        results = list(executor.map(function, range(calls)))
    elapsed = time.perf_counter() - started
    if results != [index + 1 for index in range(calls)]:
        raise AssertionError("wrong results")
    return calls / elapsed


def measure(label: str, runs: int, once) -> dict:
    values = [once() for _ in range(runs)]
    return {
        "case": label,
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="repeated runs per figure")
    parser.add_argument("--calls", type=int, default=40, help="calls per run")
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2, 4], help="callers at once (throughput)"
    )
    options = parser.parse_args(argv)
    records = []

    def emit(record: dict, unit: str) -> None:
        record["unit"] = unit
        records.append(record)
        print(json.dumps(record), flush=True)

    with policy(0) as cold, policy(1) as warm:
        emit(
            measure("latency, cold", options.runs, lambda: latency_run(cold, options.calls, False)),
            "ms per call",
        )
        emit(
            measure(
                "latency, warm, child waiting",
                options.runs,
                lambda: latency_run(warm, options.calls, True),
            ),
            "ms per call",
        )
        emit(
            measure(
                "latency, warm, back to back",
                options.runs,
                lambda: latency_run(warm, options.calls, False),
            ),
            "ms per call",
        )
    for threads in options.threads:
        for warm_workers in (0, threads):
            with policy(warm_workers, threads) as sandbox:
                kind = "warm" if warm_workers else "cold"
                emit(
                    measure(
                        f"throughput, {kind}, {threads} at once",
                        options.runs,
                        lambda sandbox=sandbox, threads=threads: throughput_run(
                            sandbox, options.calls, threads
                        ),
                    ),
                    "calls per second",
                )
    print()
    print(f"{'case':40} {'median':>10} {'min':>10} {'max':>10}  unit")
    for record in records:
        print(
            f"{record['case']:40} {record['median']:10.1f} {record['min']:10.1f} "
            f"{record['max']:10.1f}  {record['unit']}"
        )
    return records


if __name__ == "__main__":
    main()
