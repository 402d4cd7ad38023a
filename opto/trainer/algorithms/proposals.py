"""How a priority search turns rollouts into proposals: feedback, then optimizer calls.

For each (candidate, BatchRollout) pair, an optimizer is pointed at the parameters of the model
copy that ran the sub-batch and gets its feedback through one backward pass (the outputs joined
with ``batchify``, the feedback texts with ``ID [i]:`` lines). This graph work runs in order, in
this thread, so node names and prompts do not depend on timing. Then the optimizer calls run:
``num_proposals`` per pair, in parallel when each has its own copy of the optimizer.
"""

from __future__ import annotations

import copy
from typing import Any

from opto.optimizers.optimizer import Optimizer
from opto.trainer.sampler import BatchRollout
from opto.trainer.utils import async_run, batchify, id_lines

__all__ = ["give_feedback", "propose_updates"]


def give_feedback(optimizer: Optimizer, rollouts: BatchRollout) -> None:
    """Point ``optimizer`` at the parameters of the model that ran ``rollouts`` and propagate
    the sub-batch's feedback to them (one output and one text for the whole sub-batch)."""
    optimizer.parameters = rollouts.module.parameters()
    targets = [r.target for r in rollouts]
    feedbacks = [r.feedback for r in rollouts]
    if len(targets) == 1:
        target, feedback = targets[0], str(feedbacks[0])
    else:
        target, feedback = batchify(*targets), id_lines(feedbacks)
    optimizer.zero_feedback()
    optimizer.backward(target, feedback)


def propose_updates(
    pairs: list[tuple[Any, BatchRollout]],
    optimizers: list[Optimizer],
    num_proposals: int,
    *,
    decouple: bool,
    num_threads: int | None,
    step_kwargs: dict[str, Any],
) -> list[tuple[Optimizer, dict]]:
    """``(optimizer, complete update dict)`` for each proposal that changes something.

    Args:
        pairs: (candidate, sub-batch rollouts) pairs.
        optimizers: the optimizer of each pair.
        num_proposals: optimizer calls per pair.
        decouple: give each pair, and each proposal, its own copy of the optimizer (whose
            state then belongs to the proposal); otherwise the given optimizers are used
            themselves, one pair after the other.
        num_threads: how many optimizer calls at once.
        step_kwargs: the arguments of ``step``.

    An update dict is completed with the current value of the parameters it leaves out; its
    keys are the parameters of the model copy that ran the pair.
    """
    if not decouple:
        proposals = []
        for (_, rollouts), optimizer in zip(pairs, optimizers, strict=True):
            give_feedback(optimizer, rollouts)
            for _ in range(num_proposals):
                update = optimizer.step(**step_kwargs)
                if update:
                    proposals.append((optimizer, _complete(optimizer, update)))
            optimizer.zero_feedback()
        return proposals
    stepping = []
    for (_, rollouts), base in zip(pairs, optimizers, strict=True):
        optimizer = copy.deepcopy(base)
        give_feedback(optimizer, rollouts)
        stepping.append(optimizer)
        stepping.extend(copy.deepcopy(optimizer) for _ in range(num_proposals - 1))
    updates = async_run(
        [optimizer.step for optimizer in stepping],
        kwargs_list=[step_kwargs] * len(stepping),
        max_workers=num_threads,
        description=(
            f"Calling optimizers: Generating {num_proposals} proposals for each of "
            f"{len(pairs)} batches"
        ),
    )
    proposals = [(o, _complete(o, u)) for o, u in zip(stepping, updates, strict=True) if u]
    for optimizer in stepping:
        optimizer.zero_feedback()
        optimizer.parameters = []
    return proposals


def _complete(optimizer: Optimizer, update: dict) -> dict:
    complete = dict(update)
    for parameter in optimizer.parameters:
        complete.setdefault(parameter, parameter.data)
    return complete
