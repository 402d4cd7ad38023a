"""Bundle call overhead: calling a @bundle()-decorated function against calling it plainly.

Each batch calls a two-argument function many times, with node arguments and with plain
values; the overhead is the bundled time minus the plain time, in microseconds per call.
"""

from __future__ import annotations

from _bench import Options, Reporter, Stopwatch, main, repeat_runs

from opto.trace import GRAPH, bundle, node

CALLS_PER_BATCH = 2000
QUICK_CALLS_PER_BATCH = 300


def combine(text, count):
    return text * (count % 3 + 1)


bundled = bundle()(combine)


def _batch(kind: str, calls: int):
    def run(watch: Stopwatch) -> None:
        if kind == "nodes":
            text, count = node("ab", trainable=True), node(2)
            function = bundled
        elif kind == "values":
            text, count = "ab", 2
            function = bundled
        else:
            text, count = "ab", 2
            function = combine
        with watch.phase("batch"):
            for _ in range(calls):
                _ = function(text, count)
        GRAPH.clear()

    return run


def measure(report: Reporter, options: Options) -> None:
    calls = QUICK_CALLS_PER_BATCH if options.quick else CALLS_PER_BATCH
    repeats = options.repeats_or(full=15, quick=3)
    medians = {}
    for kind in ("plain", "nodes", "values"):
        samples = repeat_runs(
            _batch(kind, calls), repeats=repeats, budget=options.budget, cap=options.cap, warmup=1
        )
        medians[kind] = report.samples(
            f"call/{kind}", samples["batch"], "us/call", scale=1e6 / calls, calls_per_batch=calls
        )
    target = {"max": 10.0, "text": "<= 10 us over the plain call"}
    for kind in ("nodes", "values"):
        report.value(f"overhead/{kind}", medians[kind] - medians["plain"], "us/call", target=target)


if __name__ == "__main__":
    main("bundle_call", __doc__.splitlines()[0], measure)
