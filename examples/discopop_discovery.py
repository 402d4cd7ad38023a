"""Discover preference-optimization losses with an LLM, DiscoPOP style, on the numpy task.

The loop is opto's core: the loss is a code parameter, the proposer is an optimizer (the
paper's growing transcript, or OptoPrime), each proposal is checked, contract-tested and trained
in a sandbox by the task's evaluator, and the search, its archive and its resumable run
directory are optimize_anything's. Run the same command again after an interruption and it
continues where it stopped.

With a model configured (OPTO_LLM_MODEL, see docs/llm.md) and without --offline this is a real
discovery run. Otherwise the "LLM" replays SCRIPTED proposals written for this example (valid
losses, broken code, NaN-producing code, hostile code); they do not react to the feedback.

    python examples/discopop_discovery.py [--generations N] [--proposer transcript|optoprime]
                                          [--run-dir DIR] [--offline] [--fresh] [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time

from _support import choose_llm, run

from opto.discovery import (
    LossEvaluator,
    LossObjective,
    PreferenceConfig,
    ProposalEvaluator,
    discover,
    report,
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


def settings(quick: bool) -> LossEvaluator:
    """The task: the full objective, or (--quick) a small world for smoke tests (seconds per
    proposal, numbers not meaningful)."""
    objective = (
        LossObjective(
            preset=PreferenceConfig(n_prompts=30, n_responses=6, n_pairs=200, epochs=2),
            betas=(0.5, 2.0),
            seeds=(0, 1),
            kl_budget=0.3,
        )
        if quick
        else LossObjective(preset="overfit", betas=(0.5, 1.0, 2.5, 5.0), seeds=(0, 1, 2, 3, 4))
    )
    limits = {"memory": "2GiB", "echo_output": False}
    stages = ProposalEvaluator(
        objective,
        contract_policy=SubprocessPolicy(wall_time=30, cpu_time=3, **limits),
        training_policy=SubprocessPolicy(wall_time=600, cpu_time=600, **limits),
    )
    return LossEvaluator(objective, evaluator=stages)


def scripted(request: dict) -> str:
    """The scripted proposer: the next SCRIPTED reply after those already in the transcript
    (so a resumed run goes on with the right one)."""
    done = sum(message["role"] == "assistant" for message in request["messages"])
    return SCRIPTED[done]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=len(SCRIPTED))
    parser.add_argument("--proposer", choices=("transcript", "optoprime"), default="transcript")
    parser.add_argument("--run-dir", default="discovery-output/discopop_run")
    parser.add_argument("--offline", action="store_true", help="scripted replies even with a model")
    parser.add_argument("--fresh", action="store_true", help="delete an existing run first")
    parser.add_argument("--quick", action="store_true", help="a small world, for smoke tests")
    args = parser.parse_args()

    if args.fresh:
        shutil.rmtree(args.run_dir, ignore_errors=True)
    llm, is_scripted = choose_llm([scripted] * len(SCRIPTED), offline=args.offline)
    if is_scripted and args.proposer != "transcript":
        parser.error("the scripted replies are in the transcript format; use a model")
    generations = min(args.generations, len(SCRIPTED)) if is_scripted else args.generations
    print(f"[discovery] {args.proposer} proposer, {generations} proposals, run in {args.run_dir}")
    started = time.monotonic()
    result = discover(
        llm,
        args.run_dir,
        generations=generations,
        evaluator=settings(args.quick),
        baselines=("dpo", "slic", "ipo"),
        proposer=args.proposer,
    )
    print(f"\n{report(result)}\n({time.monotonic() - started:.0f} s, stopped: {result.stopped})")
    usage = result.usage
    print(f"LLM usage: {usage['calls']} calls, {usage['tokens']} tokens, cost ${usage['cost']:.4f}")
    if is_scripted:
        print("(The proposals were SCRIPTED, not written by a model: see SCRIPTED in this file.)")


if __name__ == "__main__":
    run(main)
