"""What the proposer reads: the system prompt, the seed message, and the feedback on each turn.

The wording follows the DiscoPOP loop (a researcher persona, a fixed loss interface, replies as
JSON ``{thought, name, code}``, fitness or error text after every proposal), adapted to the
numpy task: the interface takes beta as an argument, imports are limited, and the contract the
code must meet is spelled out, because breaking it costs a turn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from opto.discovery.contract import ContractSpec
from opto.discovery.objective import LossObjective

NEXT = "Please generate the next one."

_EXAMPLE_CODE = """\
def dpo(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
        reference_rejected_logps, beta):
    rho = (policy_chosen_logps - reference_chosen_logps) - (
        policy_rejected_logps - reference_rejected_logps)
    return np.logaddexp(0.0, -beta * rho)
"""
_EXAMPLE = {
    "thought": (
        "Treat each pair as a Bradley-Terry comparison whose logit is beta * rho and minimise "
        "its negative log-likelihood: the DPO loss."
    ),
    "name": "dpo",
    "code": _EXAMPLE_CODE,
}


def system_prompt(objective: LossObjective, contract: ContractSpec) -> str:
    """The proposer's system prompt: the task, the loss interface, the rules the code must
    meet, how it is scored and the reply format (with a worked DPO example).

    Args:
        objective: how losses are trained and scored (its ``describe()`` is quoted).
        contract: the contract tests; its betas and extreme rho values are named, so the
            LLM knows where its loss must stay finite before a turn is spent finding out.
    """
    betas = ", ".join(f"{beta:g}" for beta in contract.betas)
    rho = max((abs(r) for r in contract.extreme_rhos), default=0.0)
    extremes = f" and for pairs with |rho| up to {rho:g}" if rho else ""
    return f"""\
You are a machine learning researcher who designs loss functions for preference optimization: \
aligning a policy offline from pairs of a chosen and a rejected response, as DPO does. Each turn \
you propose one new loss; it is tested, trained and scored, and the result is reported back to \
you. Aim for a higher fitness than every loss seen so far. You know the literature on \
classification, ranking and robust losses well: draw on it, and be creative.

THE LOSS INTERFACE. Write one Python function with five parameters, in this order:

    def loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, reference_rejected_logps, beta):

- The first four arguments are numpy float arrays of shape (B,), one entry per preference pair: \
the log-probability of the chosen and of the rejected response under the policy being trained, \
then under the frozen reference policy.
- beta is a positive float, the strength of the pull towards the reference. With \
rho = (policy_chosen_logps - reference_chosen_logps) - (policy_rejected_logps - \
reference_rejected_logps), DPO's loss is log(1 + exp(-beta * rho)).
- Return a numpy array of shape (B,): one loss per pair, not their mean. Training minimises the \
batch mean. Derivatives are taken numerically, so return values only. Batch statistics are \
allowed.
- numpy is available as np and math as math; import nothing else. Constants (margins, \
temperatures, weights) go inside the function.
- The loss must be deterministic, must not modify its inputs, and must give finite values and \
derivatives for every beta in {{{betas}}}{extremes}: use stable forms such as \
np.logaddexp(0, -x) for log(1 + exp(-x)).

HOW A LOSS IS SCORED. {objective.describe()}

Before training, every proposal is checked (output shape, finite values and derivatives, \
determinism) and it runs in a sandbox with time and memory limits. A proposal that fails is \
reported back with its error and still uses up a turn. A proposal whose code is the same as an \
earlier one is not evaluated again.

Reply with one JSON object and nothing else, with three keys in this order: "thought" (your \
reasoning and the idea behind the loss), "name" (a short snake_case name for it) and "code" (the \
complete Python code, as one JSON string). For example:

{json.dumps(_EXAMPLE, indent=1)}"""


def seed_message(seeds: Sequence[tuple[str, str, str]]) -> str:
    """The first user message: each seed loss, then the request (DiscoPOP's "burn-in"
    message).

    Args:
        seeds: ``(name, code, how it scored)`` of each reference loss evaluated before the
            first proposal; with none, the message only asks for a first loss.
    """
    if not seeds:
        return f"No loss has been evaluated yet. {NEXT}"
    parts = ["Here are the losses evaluated so far, with their fitness (higher is better):"]
    for name, code, summary in seeds:
        parts.append(f"### {name}: {summary}\n```python\n{code}```")
    parts.append(NEXT)
    return "\n\n".join(parts)


def valid_feedback(
    fitness: dict[str, Any], metrics: dict[str, Any], notes: Sequence[str] = ()
) -> str:
    """The feedback on a loss that trained: its fitness, then the figures behind it.

    Args:
        fitness: ``{"mean", "sd", "n", "beta_per_seed"}`` of the loss over the seeds.
        metrics: ``{beta: {"reward", "kl", "win_rate", "train_accuracy", ...}}``, one line
            each, so the proposer sees the trade-off and not only the fitness.
        notes: diagnostics in words (default none), one line each.
    """
    lines = [f"Fitness: {fitness['mean']:.4f} (sd {fitness['sd']:.4f} over {fitness['n']} seeds)."]
    chosen = [f"{beta:g}" if beta is not None else "none" for beta in fitness["beta_per_seed"]]
    lines.append(f"Beta that scored, per seed: {', '.join(chosen)}.")
    for beta, row in metrics.items():
        lines.append(
            f"beta={beta}: reward {row['reward']:.3f}, KL {row['kl']:.3f}, win rate "
            f"{row['win_rate']:.3f}, training pairs ranked as labelled {row['train_accuracy']:.2f}"
        )
    lines += list(notes)
    lines.append(NEXT)
    return "\n".join(lines)


def error_feedback(status: str, stage: str | None, error: str) -> str:
    """The feedback on a proposal that did not train: a heading, the error, the request.

    Args:
        status: ``"invalid"`` (the code was refused) or another failure status (the
            evaluation failed, e.g. stopped by the sandbox).
        stage: where it stopped; ``"parse"`` means the reply itself was not understood.
        error: the reason, shown as it is (stripped).
    """
    if stage == "parse":
        head = "Reply not understood."
    elif status == "invalid":
        head = "Code not valid."
    else:
        head = "Evaluation failed."
    return f"{head} Error:\n{error.strip()}\n{NEXT}"
