"""Building OptoPrime's problem instance: one parameter feeding many calls.

A prompt parameter is formatted into N separate questions whose answers are concatenated;
after backward, the time to summarize the graph into the problem instance and render the
prompt is measured (no LLM call). Trace took about 1.4 s for N = 1,000.
"""

from __future__ import annotations

from _bench import Options, Reporter, Stopwatch, main, repeat_runs

from opto.optimizers import OptoPrime
from opto.trace import GRAPH, node

SIZES = (100, 1000)
QUICK_SIZES = (100,)


def _graph(calls: int):
    prompt = node("Answer: {}", trainable=True)
    total = node("")
    for index in range(calls):
        total = total + prompt.format(index)
    return prompt, total


def _batch(calls: int):
    def run(watch: Stopwatch) -> None:
        prompt, output = _graph(calls)
        optimizer = OptoPrime([prompt], llm=object())
        optimizer.zero_feedback()
        optimizer.backward(output, "too long")
        with watch.phase("summarize"):
            summary = optimizer.summarize()
        with watch.phase("prompt"):
            optimizer.construct_prompt(summary)
        GRAPH.clear()

    return run


def measure(report: Reporter, options: Options) -> None:
    repeats = options.repeats_or(full=7, quick=2)
    for calls in QUICK_SIZES if options.quick else SIZES:
        samples = repeat_runs(
            _batch(calls), repeats=repeats, budget=options.budget, cap=options.cap, warmup=1
        )
        target = {"max": 20.0, "text": "< 20 ms"} if calls == 1000 else {}
        report.samples(
            f"summarize/{calls}",
            samples["summarize"],
            "ms",
            scale=1e3,
            calls=calls,
            **({"target": target} if target else {}),
        )
        report.samples(f"prompt/{calls}", samples["prompt"], "ms", scale=1e3, calls=calls)


if __name__ == "__main__":
    main("prompt_building", __doc__.splitlines()[0], measure)
