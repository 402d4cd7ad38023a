"""Discover preference-optimization losses with an LLM, DiscoPOP style, on the numpy task.

Each generation the LLM proposes a loss as JSON {thought, name, code}; the code is checked,
contract-tested and trained in a sandbox, scored, recorded in a JSON archive and the result is
fed back. The archive is written after every entry: run the same command again after an
interruption and it continues where it stopped.

With a model configured (OPTO_LLM_MODEL, see docs/llm.md) and without --offline this is a real
discovery run. Otherwise the "LLM" replays SCRIPTED proposals written for this example (valid
losses, broken code, NaN-producing code, hostile code); they do not react to the feedback.

    python examples/discopop_discovery.py [--generations N] [--mode transcript|archive]
                                          [--archive PATH] [--offline] [--fresh] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _support import choose_llm, run

from opto.discovery import (
    Archive,
    ArchiveView,
    DiscoveryLoop,
    Entry,
    LossObjective,
    PreferenceConfig,
)
from opto.runtime import SubprocessPolicy

SIGNATURE = (
    "policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, "
    "reference_rejected_logps, beta"
)
RHO = (
    "    rho = (policy_chosen_logps - reference_chosen_logps) - (\n"
    "        policy_rejected_logps - reference_rejected_logps\n"
    "    )\n"
)


def loss_code(name: str, body: str, header: str = "") -> str:
    return f"{header}def {name}({SIGNATURE}):\n{RHO}{body}"


def proposal(thought: str, name: str, code: str) -> str:
    return json.dumps({"thought": thought, "name": name, "code": code})


# Scripted replies, in order. Written for this example; each exercises one path of the loop.
SCRIPTED = [
    proposal(
        "Down-weight pairs the policy already ranks correctly, as focal loss does for easy "
        "examples: (1 - sigmoid(x))^2 times the logistic loss.",
        "focal_logistic",
        loss_code(
            "focal_logistic",
            "    x = beta * rho\n"
            "    p_wrong = np.exp(-np.logaddexp(0.0, x))\n"
            "    return p_wrong**2 * np.logaddexp(0.0, -x)\n",
        ),
    ),
    # The DPO seed again, reformatted, commented and renamed: a duplicate, not re-evaluated.
    "Let me start from the classic.\n```json\n"
    + proposal(
        "Logistic loss on the implicit reward margin.",
        "bradley_terry",
        loss_code(
            "bradley_terry",
            "    # negative log-likelihood of the Bradley-Terry model\n"
            "    return np.logaddexp(0.0, -beta * rho)\n",
        ),
    )
    + "\n```",
    proposal(
        "Blend the logistic loss with a hinge: the hinge stops pushing pairs past a margin, "
        "which should limit drift from the reference.",
        "logistic_hinge_blend",
        loss_code(
            "logistic_hinge_blend",
            "    x = beta * rho\n"
            "    return 0.5 * np.logaddexp(0.0, -x) + 0.5 * np.maximum(0.0, 1.0 - x)\n",
        ),
    ),
    proposal(
        "A squared hinge (broken: the parenthesis is never closed).",
        "squared_hinge",
        loss_code("squared_hinge", "    return np.maximum(0.0, 1.0 - beta * rho ** 2\n"),
    ),
    proposal(
        "Average the logistic loss over the batch (wrong: one value per pair is required).",
        "mean_logistic",
        loss_code("mean_logistic", "    return np.mean(np.logaddexp(0.0, -beta * rho))\n"),
    ),
    proposal(
        "Penalise the square root of the remaining margin (NaN once beta * rho exceeds 1).",
        "sqrt_margin",
        loss_code("sqrt_margin", "    return np.sqrt(1.0 - beta * rho)\n"),
    ),
    proposal(
        "Gate between the logistic and the exponential loss with a sharp sigmoid, written "
        "literally: exp(x / 0.05) overflows for large margins.",
        "literal_gated_exp",
        loss_code(
            "literal_gated_exp",
            "    x = beta * rho\n"
            "    gate = np.exp(x / 0.05) / (1.0 + np.exp(x / 0.05))\n"
            "    return (1.0 - gate) * np.log1p(np.exp(-x)) + gate * np.exp(-x)\n",
        ),
    ),
    proposal(
        "The same gate in log space (LRML, the loss DiscoPOP found): stable for any margin.",
        "log_ratio_modulated",
        loss_code(
            "log_ratio_modulated",
            "    x = beta * rho\n"
            "    tau = 0.05\n"
            "    keep = np.exp(-np.logaddexp(0.0, x / tau))\n"
            "    gated_exp = np.exp(-np.logaddexp(0.0, -x / tau) - x)\n"
            "    return keep * np.logaddexp(0.0, -x) + gated_exp\n",
        ),
    ),
    # Hostile: writes outside its working directory (numpy passes the static check).
    proposal(
        "Cache the margins on disk for later analysis.",
        "cached_logistic",
        loss_code(
            "cached_logistic",
            "    np.save('/tmp/discopop_margins.npy', rho)\n"
            "    return np.logaddexp(0.0, -beta * rho)\n",
        ),
    ),
    # Hostile: never returns.
    proposal(
        "Refine the margin until it converges.",
        "endless_refinement",
        loss_code(
            "endless_refinement",
            "    margin = 1.0\n"
            "    while margin > 0:\n"
            "        margin = margin * 0.5 + 0.5\n"
            "    return np.logaddexp(0.0, -beta * rho) * margin\n",
        ),
    ),
    # Hostile: imports os to end the process; refused by the static check before running.
    proposal(
        "Exit early once the batch looks solved.",
        "early_exit",
        loss_code("early_exit", "    os._exit(0)\n", header="import os\n\n"),
    ),
    "I would now like to explore an ordinal regression view of the preferences, where each "
    "pair contributes a cumulative-link likelihood.",
    proposal(
        "Conservative DPO: assume 10% of the labels are flipped and minimise the expected "
        "logistic loss under that noise.",
        "label_smoothed_logistic",
        loss_code(
            "label_smoothed_logistic",
            "    x = beta * rho\n"
            "    eps = 0.1\n"
            "    return (1 - eps) * np.logaddexp(0.0, -x) + eps * np.logaddexp(0.0, x)\n",
        ),
    ),
    proposal(
        "A smooth hinge: softplus of a margin of 1 with temperature 0.25.",
        "soft_hinge",
        loss_code(
            "soft_hinge",
            "    x = beta * rho\n    t = 0.25\n    return t * np.logaddexp(0.0, (1.0 - x) / t)\n",
        ),
    ),
]

FULL = {
    "objective": LossObjective(
        preset="overfit", betas=(0.5, 1.0, 2.5, 5.0), seeds=(0, 1, 2, 3, 4), kl_budget=0.3
    ),
    "contract_policy": SubprocessPolicy(wall_time=30, cpu_time=3, memory="1GiB", echo_output=False),
    "training_policy": SubprocessPolicy(
        wall_time=600, cpu_time=600, memory="2GiB", echo_output=False
    ),
}
# --quick: a small world for smoke tests (seconds per proposal, numbers not meaningful).
QUICK = {
    "objective": LossObjective(
        preset=PreferenceConfig(n_prompts=30, n_responses=6, n_pairs=200, epochs=2),
        betas=(0.5, 2.0),
        seeds=(0, 1),
        kl_budget=0.3,
    ),
    "contract_policy": SubprocessPolicy(wall_time=20, cpu_time=2, memory="1GiB", echo_output=False),
    "training_policy": SubprocessPolicy(
        wall_time=120, cpu_time=120, memory="2GiB", echo_output=False
    ),
}


def show(entry: Entry) -> None:
    if entry.fitness is not None:
        result = f"fitness {entry.fitness['mean']:.3f} ± {entry.fitness['sd']:.3f}"
    elif entry.duplicate_of is not None:
        result = f"same code as #{entry.duplicate_of}, not evaluated"
    else:
        result = (entry.error or "").strip().splitlines()[0][:90]
    origin = "seed" if entry.origin == "seed" else f"gen {entry.generation}"
    print(
        f"  #{entry.id:<3} {origin:<6} {entry.name[:26]:<26} {entry.status:<9} {result}"
        f"  [{entry.seconds:.1f} s]",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=len(SCRIPTED))
    parser.add_argument("--mode", choices=("transcript", "archive"), default="transcript")
    parser.add_argument("--archive", default="discovery-output/discopop_archive.json")
    parser.add_argument("--offline", action="store_true", help="scripted replies even with a model")
    parser.add_argument("--fresh", action="store_true", help="delete an existing archive first")
    parser.add_argument("--quick", action="store_true", help="a small world, for smoke tests")
    args = parser.parse_args()

    path = Path(args.archive)
    if args.fresh:
        path.unlink(missing_ok=True)
    done = Archive.load(path).generations if path.exists() else 0
    if done:
        print(f"[resume] {path} already holds {done} generation(s); continuing")
    llm, scripted = choose_llm(SCRIPTED[done:], offline=args.offline)
    generations = args.generations
    if scripted and generations > len(SCRIPTED):
        print(f"[scripted] only {len(SCRIPTED)} scripted proposals; stopping there")
        generations = len(SCRIPTED)
    settings = QUICK if args.quick else FULL
    loop = DiscoveryLoop(
        llm,
        path,
        objective=settings["objective"],
        mode=args.mode,
        view=ArchiveView(top_k=5, recent=3, failures=3, max_chars=12_000),
        baselines=("dpo", "slic", "ipo"),
        contract_policy=settings["contract_policy"],
        training_policy=settings["training_policy"],
        on_entry=show,
    )
    print(f"[discovery] mode={args.mode}, {generations} generations, archive {path}")
    print(f"[discovery] {loop.objective.describe()}")
    started = time.monotonic()
    archive = loop.run(generations)
    print(
        f"\nArchive after {archive.generations} generations ({time.monotonic() - started:.0f} s):"
    )
    print(archive.table())
    best = archive.best()
    if best is not None:
        print(f"\nBest: #{best.id} {best.name}, fitness {best.fitness['mean']:.3f}")
    usage = archive.usage()
    cost = "unknown" if usage["cost"] is None else f"${usage['cost']:.4f}"
    estimated = " (token counts estimated)" if usage["estimated"] else ""
    print(
        f"LLM usage: {usage['calls']} calls, {usage['prompt_tokens']} prompt + "
        f"{usage['completion_tokens']} completion tokens{estimated}, cost {cost}"
    )
    if scripted:
        print("(The proposals were SCRIPTED, not written by a model: see SCRIPTED in this file.)")


if __name__ == "__main__":
    run(main)
