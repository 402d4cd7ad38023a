"""Measuring, without calling any model, what one training step of a configured run asks for.

On the first minibatch the run would draw, the model runs on each example and the guide reads
each output, then each optimizer takes one step on a copy of itself, all inside
``opto.llm.dry_run``: every model call is recorded with its real prompt and answered by a
placeholder, and nothing is paid, cached or applied. What comes out is the calls each part
makes and their sizes: the unit prices that ``opto.trainer.estimate`` multiplies by the
schedule.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass, field
from typing import Any

from opto.llm.dry_run import RecordedCall, dry_run
from opto.llm.pricing import estimate_text_tokens
from opto.trace.errors import ExecutionError
from opto.trace.nodes import ExceptionNode, Node
from opto.trainer.loader import DataLoader
from opto.trainer.naming import canonical_names, fresh_names, model_nodes
from opto.trainer.utils import batchify, id_lines
from opto.utils.errors import OptoError

REASONING_TOKENS = 150
"""Default tokens of reasoning an optimizer's reply is taken to hold besides its values."""

REPLY_TOKENS = 100
"""Default tokens of a reply to any other call (the model's own calls, an LLM judge)."""


class DryRunError(OptoError, RuntimeError):
    """The dry run could not build a real prompt (the model failed on every example)."""


@dataclass
class CallGroup:
    """Calls of one kind, per unit (per example, or per optimizer step), as measured.

    ``calls``, ``prompt_tokens``, ``completion_tokens`` and ``cost`` are per unit (means over
    the measured units); ``unpriced`` names models whose price is unknown.
    """

    calls: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0
    cost: float = 0.0
    unpriced: set[str] = field(default_factory=set)

    @classmethod
    def from_calls(cls, recorded: list[RecordedCall], units: int, reply_tokens: int) -> CallGroup:
        """The mean per unit of ``recorded`` over ``units`` units; each reply ``reply_tokens``
        long (at most the call's ``max_tokens``)."""
        group = cls()
        units = max(units, 1)
        for call in recorded:
            reply = reply_tokens if call.max_tokens is None else min(reply_tokens, call.max_tokens)
            completion = reply * call.choices
            group.calls += 1 / units
            group.prompt_tokens += call.prompt_tokens / units
            group.completion_tokens += completion / units
            if call.price is None:
                group.unpriced.add(call.model)
            else:
                price = call.price.input * call.prompt_tokens + call.price.output * completion
                group.cost += price / units
        return group


@dataclass
class Measurement:
    """The calls one step of the run makes, as recorded (reply lengths are not known yet).

    ``model``: the model's calls on the ``examples`` examples of the minibatch; ``guides``:
    per guide (by ``id``), its calls on the same outputs; ``optimizers``: per optimizer, the
    calls of one step, and ``suggestion_tokens`` the tokens of its trainable values (what a
    reply restates); ``optimizer_prompt_tokens`` the first optimizer prompt's size;
    ``notes`` what went wrong on the way.
    """

    examples: int
    model: list[RecordedCall]
    guides: dict[int, list[RecordedCall]]
    optimizers: list[list[RecordedCall]]
    suggestion_tokens: list[int]
    optimizer_prompt_tokens: int
    notes: list[str] = field(default_factory=list)


def measure_step(
    agent: Any,
    optimizers: list[Any],
    guides: list[Any],
    train_data: dict,
    batch_size: int,
    seed: int,
    min_score: Any,
) -> Measurement:
    """Run the first minibatch, each guide and one step of each optimizer under a dry run.

    ``guides`` are every guide the run uses (training, validation, test); each is measured on
    the outputs of the minibatch. ``agent`` is the model and ``optimizers`` the run's
    optimizers (each takes one step on the minibatch's feedback); the minibatch is the first
    one ``train_data`` gives with ``batch_size`` and ``seed``, as the run will draw it;
    ``min_score`` is what a failing example scores.
    """
    notes: list[str] = []
    indices = DataLoader(train_data, batch_size=batch_size, seed=seed).next_indices()
    inputs = [train_data["inputs"][i] for i in indices]
    infos = [train_data["infos"][i] for i in indices]
    kept = model_nodes(agent)
    start = fresh_names(kept)
    outputs: list[Any] = []
    with dry_run() as model_calls, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x in inputs:
            try:
                outputs.append(agent(x))
            except ExecutionError as error:
                outputs.append(error.exception_node)
            except Exception as error:  # e.g. code that cannot parse the placeholder reply
                outputs.append(None)
                notes.append(f"the model failed on a placeholder reply: {type(error).__name__}")
    if all(output is None for output in outputs):
        raise DryRunError(
            "the dry run could not run the model on any example of the first minibatch "
            f"({notes[0].split(': ', 1)[1]}); it needs the model to run on placeholder replies"
        )
    feedback: dict[int, list[tuple[Node, str]]] = {}
    measured_guides: dict[int, list[RecordedCall]] = {}
    for guide in guides:
        if id(guide) in measured_guides:
            continue
        pairs, recorded = _judge(guide, inputs, outputs, infos, min_score, notes)
        feedback[id(guide)] = pairs
        measured_guides[id(guide)] = recorded
    pairs = feedback[id(guides[0])]
    targets = [target for target, _ in pairs]
    canonical_names(targets, kept, start)
    if len(targets) == 1:
        target, text = pairs[0]
    else:
        target, text = batchify(*targets), id_lines([text for _, text in pairs])
    steps = [_one_step(optimizer, target, text, notes) for optimizer in optimizers]
    first_prompt = steps[0][0].prompt_tokens if steps and steps[0] else 0
    return Measurement(
        examples=len(inputs),
        model=list(model_calls.calls),
        guides=measured_guides,
        optimizers=steps,
        suggestion_tokens=[_suggestion_tokens(optimizer) for optimizer in optimizers],
        optimizer_prompt_tokens=first_prompt,
        notes=notes,
    )


def _judge(
    guide: Any, inputs: list, outputs: list, infos: list, min_score: Any, notes: list[str]
) -> tuple[list[tuple[Node, str]], list[RecordedCall]]:
    """``(output node, feedback)`` per example that ran, and the guide's recorded calls."""
    pairs: list[tuple[Node, str]] = []
    with dry_run() as recorded, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x, output, info in zip(inputs, outputs, infos, strict=True):
            if output is None:
                continue
            if isinstance(
                output, ExceptionNode
            ):  # scored min_score without the guide, as in training
                pairs.append((output, output.create_feedback("full")))
                continue
            response = output.data if isinstance(output, Node) else output
            try:
                _, text = guide(x, response, info)
            except Exception as error:
                notes.append(f"the guide failed on a placeholder reply: {type(error).__name__}")
                text = f"score {min_score}"
            node = output if isinstance(output, Node) else batchify(output)
            pairs.append((node, str(text)))
    return pairs, list(recorded.calls)


def _one_step(optimizer: Any, target: Node, feedback: str, notes: list[str]) -> list[RecordedCall]:
    """The calls one step of ``optimizer`` makes on ``target``, on a copy of the optimizer."""
    probe = copy.deepcopy(optimizer)  # shares the parameters and client, not the memory
    probe.zero_feedback()
    try:
        probe.backward(target, feedback)
        with dry_run() as recorded, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                probe.step(bypassing=True)
            except Exception as error:
                if not recorded.calls:  # it never reached a model: nothing to measure
                    raise DryRunError(
                        f"{type(optimizer).__name__} could not make its call, so its prompt "
                        f"cannot be measured: {error}"
                    ) from error
                notes.append(  # a placeholder reply has no suggestion to read
                    f"{type(optimizer).__name__} stopped on the placeholder reply: "
                    f"{type(error).__name__}"
                )
    finally:
        probe.zero_feedback()
    return list(recorded.calls)


def _suggestion_tokens(optimizer: Any) -> int:
    """Tokens of a reply's suggestion restating every trainable value."""
    values = {p.py_name: p.data for p in optimizer.parameters if p.trainable}
    return estimate_text_tokens(json.dumps(values, default=str))
