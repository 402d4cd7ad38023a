"""Collect a real model's replies to OptoPrime's first prompt on the small problems.

    python benchmarks/quality/collect_replies.py --base-url http://127.0.0.1:8765/v1 \\
        --model qwen2.5-coder-1.5b-instruct --out replies.json

For each problem of ``small_model_problems.py``, with and without JSON mode and at each
temperature given, one reply is asked for and stored with its settings. The tests read the
committed file (``tests/unit/optimizers/data/small_model_replies.json``) offline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from small_model_problems import PROBLEMS

from opto.llm import LLM
from opto.optimizers import OptoPrime
from opto.trace.graph import GRAPH


def first_prompt(problem: str) -> tuple[str, str]:
    """The system and user prompt of the problem's first step (from a fresh graph)."""
    GRAPH.clear()
    parameters, output, feedback = PROBLEMS[problem]()
    optimizer = OptoPrime(parameters, llm=object())
    optimizer.zero_feedback()
    optimizer.backward(output, feedback)
    return optimizer.construct_prompt(optimizer.summarize())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.0, 0.8])
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    parser.add_argument("--max-tokens", type=int, default=600)
    args = parser.parse_args(argv)
    llm = LLM(args.model, base_url=args.base_url, api_key="none", cache=False, prices=(0, 0))
    records = json.loads(args.out.read_text()) if args.out.exists() else []
    for problem in args.problems:
        system, user = first_prompt(problem)
        for json_mode in (True, False):
            for temperature in args.temperatures:
                options = {"max_tokens": args.max_tokens, "temperature": temperature}
                if json_mode:
                    options["response_format"] = {"type": "json_object"}
                started = time.monotonic()
                messages = [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ]
                reply = llm(messages=messages, timeout=900, **options)
                records.append(
                    {
                        "problem": problem,
                        "model": args.model,
                        "json_mode": json_mode,
                        "temperature": temperature,
                        "seconds": round(time.monotonic() - started, 1),
                        "reply": reply.choices[0].message.content or "",
                    }
                )
                args.out.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
                print(problem, json_mode, temperature, records[-1]["seconds"], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
