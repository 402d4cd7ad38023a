"""How fast ``opto.trainer.evaluate`` runs an LLM agent over a dataset.

Starts the chat-completions server of ``llm_concurrency.py`` (its own process, 100 ms per
reply by default), then evaluates an agent that makes one LLM call per example on 200
examples: on threads at concurrency 1, 8 and 32, and the same through a Dask cluster of 2
worker processes (16 threads each). The ideal wall time is examples x latency / concurrency;
``ratio`` = wall / ideal. With ``--repeats N`` each case runs N times and the median counts.

``dask-sleep`` cases send the same number of tasks through the same dispatch loop, each only
sleeping for the latency (no model, no HTTP): what Dask itself costs per task on this machine.

    python benchmarks/evaluation.py
    python benchmarks/evaluation.py --examples 100 --no-dask --repeats 3

Prints one JSON line per case, then a table.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from opto.llm import LLM, configure_cache  # noqa: E402
from opto.trace import model, node  # noqa: E402
from opto.trainer import MetricGuide, evaluate  # noqa: E402
from opto.trainer.evaluators import run_calls  # noqa: E402


@model
class OneCallAgent:
    """Answers each question with one LLM call; the system prompt is its parameter."""

    def __init__(self, url: str) -> None:
        self.llm = LLM("bench", base_url=url, api_key="bench", max_concurrency=64, cache=False)
        self.prompt = node("Answer briefly.", trainable=True, name="prompt")

    def forward(self, question: int) -> str:
        messages = [
            {"role": "system", "content": self.prompt.data},
            {"role": "user", "content": f"question {question}"},
        ]
        return self.llm(messages=messages).content


def is_ok(response: str, reference: str) -> float:
    return float(response == reference)


def pause(seconds: float, index: int) -> int:
    time.sleep(seconds)
    return index


def run_sleep(latency: float, executor, examples: int, concurrency: int) -> float:
    """Tasks that only wait: the executor's own cost, through evaluate's dispatch loop."""
    calls = [(pause, (latency, i)) for i in range(examples)]  # distinct: Dask merges equal tasks
    started = time.perf_counter()
    run_calls(calls, executor, concurrency, False, "sleeping")
    return time.perf_counter() - started


def run_case(agent, executor, examples: int, concurrency: int) -> float:
    inputs = list(range(examples))
    started = time.perf_counter()
    scores = evaluate(
        agent,
        MetricGuide(is_ok),
        inputs,
        ["ok"] * examples,
        num_threads=concurrency,
        executor=executor,
        progress=False,
    )
    wall = time.perf_counter() - started
    assert list(scores) == [1.0] * examples, scores.errors[:3]
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1, help="server latency in seconds")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--dask-concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--repeats", type=int, default=1, help="runs per case (median)")
    args = parser.parse_args()

    import evaluation  # this file as a module, so that Dask workers can import the agent
    from llm_concurrency import print_table, serve

    configure_cache(enabled=False, disk=False)
    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.latency, ports), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}/v1"
    agent = evaluation.OneCallAgent(url)
    agent(-1)  # imports and the first connection are not measured
    evaluate_agent = functools.partial(run_case, agent)
    cases = [("threads", evaluate_agent, None, c) for c in args.concurrency]
    cluster = client = None
    if not args.no_dask:
        from distributed import Client, LocalCluster

        os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), str(HERE)])
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=16, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        executor = client.get_executor()
        run_case(agent, executor, 4, 4)  # workers unpickle the agent and connect once
        sleep = functools.partial(evaluation.run_sleep, args.latency)  # importable by workers
        cases += [("dask-2-workers", evaluate_agent, executor, c) for c in args.dask_concurrency]
        cases += [("dask-sleep", sleep, executor, c) for c in args.dask_concurrency]
    rows = []
    for name, measure, executor, concurrency in cases:
        walls = [measure(executor, args.examples, concurrency) for _ in range(args.repeats)]
        wall = statistics.median(walls)
        ideal = args.examples * args.latency / concurrency
        row = {
            "name": name,
            "concurrency": concurrency,
            "examples": args.examples,
            "latency_s": args.latency,
            "wall_s": round(wall, 3),
            "runs_s": [round(w, 3) for w in walls],
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "ideal_s": round(ideal, 3),
            "ratio": round(wall / ideal, 3),
            "overhead_ms_per_example": round(
                1000 * (wall - ideal) * concurrency / args.examples, 2
            ),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    if client is not None:
        client.close()
        cluster.close()
    server.terminate()
    server.join()
    print_table(rows)


if __name__ == "__main__":
    main()
