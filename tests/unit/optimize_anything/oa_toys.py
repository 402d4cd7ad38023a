"""Scripted proposers for the optimize_anything tests: replies are functions of the prompt."""

from __future__ import annotations

import json
import re

from opto.llm import ScriptedLLM
from opto.optimize_anything import EngineConfig, GEPAConfig, ReflectionConfig

VARIABLE = re.compile(r"^\(str\) (\w+)=(.*)$", re.MULTILINE)


class Proposer:
    """An LLM double that edits the first variable of the prompt with ``edit`` and records
    every prompt it was sent (``options`` go to ``ScriptedLLM``, e.g. ``prices``)."""

    def __init__(self, edit=lambda value: value + "!", limit: int = 200, **options) -> None:
        self.edit = edit
        self.prompts: list[str] = []
        self.llm = ScriptedLLM([self.reply] * limit, **options)

    def variables(self, prompt: str) -> dict[str, str]:
        problem = prompt.split("#Constraints")[0]
        return dict(VARIABLE.findall(problem))

    def reply(self, request: dict) -> str:
        prompt = request["messages"][-1]["content"]
        self.prompts.append(prompt)
        name, value = next(iter(self.variables(prompt).items()))
        return json.dumps({"reasoning": "edit", "suggestion": {name: self.edit(value)}})


def config(proposer: Proposer, **engine) -> GEPAConfig:
    return GEPAConfig(
        engine=EngineConfig(**engine), reflection=ReflectionConfig(reflection_lm=proposer.llm)
    )


def length_score(candidate):
    return len(candidate) / 10, {"length": len(candidate)}
