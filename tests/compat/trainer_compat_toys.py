"""A small task for the trainer compatibility programs: learn the word a greeter puts in front.

The agent answers ``f"{prefix} {name}"``; the reference answer is ``"Hello <name>"``. The
scripted optimizer reads the prompt as a person would: it finds the trainable variable and,
when the feedback says what was expected, proposes the missing word. Replies are functions of
the prompt, so every program here is deterministic and offline.
"""

from __future__ import annotations

import json
import re

from opto.llm import DummyLLM
from opto.optimizers import OptoPrime
from opto.trace import bundle, model, node
from opto.trainer.guide import Guide

VARIABLE = re.compile(r"\(str\) (prefix\d+)=(\w+)")
EXPECTED = re.compile(r"expected '(\w+) ")
NAMES = ["Ada", "Bob", "Cy", "Di", "Eve", "Flo"]
DATA = {"inputs": NAMES, "infos": [f"Hello {n}" for n in NAMES]}


@model
class Greeter:
    def __init__(self, prefix: str = "Hi"):
        self.prefix = node(prefix, trainable=True, name="prefix", description="the greeting word")

    def forward(self, name):
        return greet(self.prefix, name)


@bundle()
def greet(prefix, name):
    """Puts the greeting word in front of the name."""
    return f"{prefix} {name}"


class GreetingGuide(Guide):
    """Score 1 for the expected greeting; otherwise says what was expected."""

    def get_feedback(self, query, response, reference=None, **kwargs):
        if response == reference:
            return 1.0, "Correct."
        return 0.0, f"The greeting is wrong: expected '{reference}', got '{response}'."


def teacher(*args, messages, **kwargs) -> str:
    """Proposes the word the feedback asks for (keeps the value when nothing is asked)."""
    prompt = messages[-1]["content"]
    variable = VARIABLE.search(prompt)
    wanted = EXPECTED.search(prompt.rsplit("#Feedback", 1)[-1])
    if variable is None or wanted is None:
        return json.dumps({"reasoning": "nothing to change", "suggestion": {}})
    return json.dumps(
        {"reasoning": "use the expected word", "suggestion": {variable[1]: wanted[1]}}
    )


def wrong_teacher(*args, messages, **kwargs) -> str:
    """Always proposes a word that is not the expected one."""
    variable = VARIABLE.search(messages[-1]["content"])
    return json.dumps({"reasoning": "try another", "suggestion": {variable[1]: "Yo"}})


class Recorder:
    """Keeps every prompt an LLM function saw."""

    def __init__(self, reply):
        self.reply = reply
        self.prompts: list[str] = []

    def __call__(self, *args, **kwargs):
        self.prompts.append(kwargs["messages"][-1]["content"])
        return self.reply(*args, **kwargs)


def optimizer_for(agent, reply=teacher) -> OptoPrime:
    return OptoPrime(agent.parameters(), llm=DummyLLM(reply))
