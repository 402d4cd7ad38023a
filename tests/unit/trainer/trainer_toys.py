"""The toy task of the trainer tests: learn the offset in ``x + offset``.

Models, guides and optimizer replies are at module level so that process pools can unpickle
them. The scripted optimizer replies are functions of the prompt, so a run is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import re

from opto.llm import DummyLLM
from opto.optimizers import OptoPrime
from opto.trace import bundle, model, node
from opto.trainer import MetricGuide

TARGET = 5
DATA = {"inputs": list(range(1, 9)), "infos": [x + TARGET for x in range(1, 9)]}
VARIABLE = re.compile(r"\(int\) (offset\d+)=(-?\d+)")
DISTANCE = re.compile(r"too (small|large) by (\d+)")


@model
class Adder:
    def __init__(self, offset: int = 0):
        self.offset = node(offset, trainable=True, name="offset")

    def forward(self, x):
        return x + self.offset


@bundle()
def fragile_add(x, offset):
    """x + offset, except that it fails for 13."""
    if x == 13:
        raise ValueError("13 is unlucky")
    return x + offset


@model
class FragileAdder(Adder):
    def forward(self, x):
        return fragile_add(x, self.offset)


def closeness(response, reference):
    return 1.0 / (1.0 + abs(response - reference))


def two_metrics(response, reference):
    return {"closeness": closeness(response, reference), "small": -abs(response)}


def distance_feedback(query, response, reference, score):
    gap = reference - response
    if gap == 0:
        return "Correct."
    return f"The output is too {'small' if gap > 0 else 'large'} by {abs(gap)}."


def make_guide() -> MetricGuide:
    return MetricGuide(closeness, feedback=distance_feedback)


def current_value(prompt: str) -> tuple[str, int]:
    found = VARIABLE.search(current_problem(prompt))
    return found.group(1), int(found.group(2))


def current_problem(prompt: str) -> str:
    """The prompt without the optimizer's memory of earlier steps (which follows it)."""
    return prompt.split("Below are some variables and their feedbacks")[0]


def gap_in(prompt: str) -> int | None:
    """What the first feedback line of the current problem says is missing."""
    found = DISTANCE.search(current_problem(prompt).rsplit("#Feedback", 1)[-1])
    if found is None:
        return None
    return int(found.group(2)) * (1 if found.group(1) == "small" else -1)


def suggestion(name: str, value: int) -> str:
    return json.dumps({"reasoning": "r", "answer": "", "suggestion": {name: value}})


def guided_reply(*args, **kwargs) -> str:
    """Moves the offset by what the first feedback line says is missing: always right."""
    prompt = kwargs["messages"][-1]["content"]
    name, value = current_value(prompt)
    gap = gap_in(prompt)
    if gap is None:
        return json.dumps({"reasoning": "correct", "suggestion": {}})
    return suggestion(name, value + gap)


def noisy_reply(*args, **kwargs) -> str:
    """One of four moves chosen by a hash of the prompt: the right one (from the feedback),
    -2, +1 or +3. Improvement is possible, but only a search that checks its proposals keeps
    the good ones."""
    prompt = kwargs["messages"][-1]["content"]
    name, value = current_value(prompt)
    gap = gap_in(prompt) or 0
    digest = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    return suggestion(name, value + [gap, -2, 1, 3][digest % 4])


def bad_reply(*args, **kwargs) -> str:
    """Always moves away from the target."""
    name, value = current_value(kwargs["messages"][-1]["content"])
    return suggestion(name, value - 3)


class Recorder:
    """Wraps a reply function and keeps every prompt it saw."""

    def __init__(self, reply):
        self.reply = reply
        self.prompts: list[str] = []

    def __call__(self, *args, **kwargs):
        self.prompts.append(kwargs["messages"][-1]["content"])
        return self.reply(*args, **kwargs)


def optimizer_for(agent, reply=noisy_reply, **options) -> OptoPrime:
    return OptoPrime(agent.parameters(), llm=DummyLLM(reply), **options)
