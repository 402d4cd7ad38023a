"""Two discovery runs with a real model, recorded for replay: DiscoPOP and an LLM4AD task.

    python benchmarks/discovery_local_model.py record --base-url http://127.0.0.1:8765/v1 \\
        --model qwen2.5-coder-1.5b-instruct [--proposals 4] [--tasks discopop llm4ad]
    python benchmarks/discovery_local_model.py replay

``record`` calls the model through a recording ``ReplayLLM``: every request and reply goes to
``benchmarks/discovery_runs/<task>.replay.json``. ``replay`` runs the same two searches offline
from those files (no server): same replies, so the same proposals and, the evaluations being
deterministic, the same scores. Both write ``<task>.summary.json`` (what docs/discovery.md
reports) and leave the archive or run directory under ``--out`` for ``opto report``.

* ``discopop``: the DiscoPOP loss-discovery loop (:func:`opto.discovery.discover`, the
  transcript proposer) on the ``overfit`` preset, three betas and three seeds, DPO as the seed
  loss.
* ``llm4ad``: LLM4AD's online bin packing (its 5 Weibull instances of 5,000 items, its scorer),
  the heuristic a trainable code string improved by OptoPrime in ``opto.trainer`` (one proposal
  per step, each taken, so the next prompt shows its score or error), the suite's template as
  the seed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).resolve().parent / "discovery_runs"
TASKS = ("discopop", "llm4ad")
# The server's default temperature with a fixed sampling seed: at temperature 0 the small model
# answered the DiscoPOP transcript with the same loss again and again (duplicates). JSON mode,
# without which it rarely answers in JSON (see the local model's notes). Replays do not depend
# on these: the replies are recorded.
LLM_OPTIONS = {
    "temperature": 0.8,
    "seed": 0,
    "max_tokens": 1024,
    "response_format": {"type": "json_object"},
}


def discopop(llm: Any, out: Path, proposals: int) -> dict[str, Any]:
    """DiscoPOP's loop (``opto.discovery.discover``, transcript proposer) with ``llm`` for
    ``proposals`` generations; the run's summary."""
    import shutil

    from opto.discovery import LossEvaluator, LossObjective, ProposalEvaluator, discover
    from opto.discovery.fitness import side_info_of
    from opto.runtime import SubprocessPolicy

    class RecordingEvaluator(LossEvaluator):
        """The preference task, remembering each evaluated code's outcome, in order."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.outcomes: list[tuple[str, Any]] = []

        def __call__(self, code: str, seed: int | None = None) -> tuple[float, dict[str, Any]]:
            outcome = self.stages.evaluate(code)
            self.outcomes.append((code, outcome))
            return side_info_of(outcome, self.failure_score)

    objective = LossObjective(
        preset="overfit", betas=(0.5, 1.0, 2.5), seeds=(0, 1, 2), kl_budget=0.3
    )
    stages = ProposalEvaluator(
        objective,
        contract_policy=SubprocessPolicy(
            wall_time=60, cpu_time=10, memory="1GiB", echo_output=False
        ),
        training_policy=SubprocessPolicy(
            wall_time=600, cpu_time=600, memory="2GiB", echo_output=False
        ),
    )
    task = RecordingEvaluator(objective, evaluator=stages)
    run_dir = out / "discopop_run"
    shutil.rmtree(run_dir, ignore_errors=True)
    started = time.monotonic()
    result = discover(
        llm,
        run_dir,
        generations=proposals,
        evaluator=task,
        baselines=("dpo",),
        proposer="transcript",
        llm_options=LLM_OPTIONS,
    )
    seed_code = result.candidates[0]
    seed = next(outcome for code, outcome in task.outcomes if code == seed_code)
    children = [
        {
            "name": _function_name(code),
            "status": outcome.status,
            "stage": outcome.stage,
            "fitness": _round(outcome.fitness["mean"]) if outcome.status == "valid" else None,
        }
        for code, outcome in task.outcomes
        if code != seed_code
    ]
    # A proposal the search did not evaluate repeated a candidate (novelty) or held no code.
    children += [{"name": "-", "status": "not evaluated", "stage": None, "fitness": None}] * (
        proposals - len(children)
    )
    valid = [c for c in children if c["status"] == "valid"]
    best = max(valid, key=lambda c: c["fitness"], default=None)
    return {
        "task": "discopop",
        "proposals": len(children),
        "statuses": _count(c["status"] for c in children),
        "seed": {"name": "dpo", "fitness": _round(seed.fitness["mean"])},
        "best": None if best is None else {"name": best["name"], "fitness": best["fitness"]},
        "fitness": children,
        "stopped": result.stopped,
        "seconds": round(time.monotonic() - started, 1),
        "output": run_dir.name,
    }


def llm4ad(llm: Any, out: Path, proposals: int) -> dict[str, Any]:
    """Online bin packing with ``llm`` for ``proposals`` optimizer steps; the run's summary."""
    from opto.discovery.suites import LLM4ADTask
    from opto.optimizers import OptoPrime
    from opto.trace import node
    from opto.trainer import train

    task = LLM4ADTask("online_bin_packing")
    code = node(task.seed_code, trainable=True, name="heuristic", description=task.describe())
    scored: dict[str, tuple[float, dict[str, Any]]] = {}  # code -> task(code): one run each

    def evaluate(candidate: str) -> tuple[float, dict[str, Any]]:
        if candidate not in scored:
            scored[candidate] = task(candidate)
        return scored[candidate]

    def metric(response: str, reference: Any) -> tuple[float, str]:
        score, info = evaluate(response)
        return score, info["feedback"]

    run_dir = out / "llm4ad_run"
    started = time.monotonic()
    # Every proposal is taken, so the next prompt shows it with its score or error: a rejected
    # proposal would leave the prompt unchanged, and the run's LLM cache would answer the
    # same prompt with the same reply at every step.
    train(
        model=code,
        train_dataset={"inputs": [task.name], "infos": [None]},
        guide=metric,
        optimizer=OptoPrime([code], llm=llm, max_tokens=LLM_OPTIONS["max_tokens"]),
        algorithm="MinibatchAlgorithm",
        num_steps=proposals,
        run_dir=run_dir,
        logger="NullLogger",
    )
    children = []
    for line in (run_dir / "proposals.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("event") != "proposal":
            continue
        if not record.get("after"):  # the reply changed nothing (e.g. it named no variable)
            children.append({"status": "no update", "fitness": None})
        else:
            [candidate] = record["after"].values()
            info = evaluate(candidate)[1]
            children.append({"status": info["status"], "fitness": _round(info.get("score"))})
    seed_score = evaluate(task.seed_code)[1]["score"]
    valid = [c["fitness"] for c in children if c["status"] == "valid"]
    return {
        "task": "llm4ad/online_bin_packing",
        "proposals": len(children),
        "statuses": _count(c["status"] for c in children),
        "seed": {"name": "llm4ad template (best fit)", "fitness": _round(seed_score)},
        "best": {"name": "best valid proposal", "fitness": max(valid)} if valid else None,
        "fitness": children,
        "failure_score": task.failure_score,
        "seconds": round(time.monotonic() - started, 1),
        "output": run_dir.name,
    }


RUNS = {"discopop": discopop, "llm4ad": llm4ad}


def run_all(
    tasks: list[str],
    proposals: int,
    out: Path,
    recordings: Path,
    live: Any = None,
    model: str = "",
) -> list[dict[str, Any]]:
    """Run ``tasks``; with ``live`` (an opto LLM) record into ``recordings``, else replay.

    ``model`` is the name the summaries give (the recordings' model when replaying)."""
    from opto.llm import ReplayLLM

    out.mkdir(parents=True, exist_ok=True)
    summaries = []
    for name in tasks:
        replay = recordings / f"{name}.replay.json"
        if live is not None:
            replay.unlink(missing_ok=True)
        summary = RUNS[name](ReplayLLM(replay, llm=live), out, proposals)
        summary["model"] = model
        summaries.append(summary)
        print(json.dumps(summary, indent=1), flush=True)
    return summaries


def _function_name(code: str) -> str:
    """The loss's function name, or "-" for code that names none."""
    from opto.discovery.interface import loss_function_name

    try:
        return loss_function_name(code)
    except Exception:  # unparseable proposals have no name
        return "-"


def _count(statuses) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("record", "replay"))
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--proposals", type=int, default=4)
    parser.add_argument("--base-url", default="http://127.0.0.1:8765/v1")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--out", default="discovery-output/local-model")
    parser.add_argument("--recordings", default=str(RECORDINGS), help="replay files' folder")
    args = parser.parse_args()
    recordings = Path(args.recordings)
    live = None
    if args.action == "record":
        from opto.llm import LLM

        live = LLM(
            args.model,
            base_url=args.base_url,
            api_key="none",
            prices=(0, 0),
            temperature=LLM_OPTIONS["temperature"],
            seed=LLM_OPTIONS["seed"],
            timeout=900,
        )
    summaries = run_all(args.tasks, args.proposals, Path(args.out), recordings, live, args.model)
    if args.action == "record":
        for summary in summaries:
            target = recordings / f"{summary['task'].split('/')[0]}.summary.json"
            target.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
