"""A small multi-objective training task whose files hold everything a report shows.

The model adds a trainable offset and prints a trainable prefix. The scripted optimizer's
replies are functions of the prompt and of a counter: they raise the offset, sometimes
change the prefix to text full of markup (``HOSTILE``), suggest a value of the wrong type
(refused) or a name that is not a parameter (unknown).
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from opto.llm import ScriptedLLM
from opto.optimizers import OptoPrime
from opto.trace import bundle, model, node
from opto.trainer import train

HOSTILE = '<script>alert("run file")</script><img src=x onerror=alert(1)> & "quoted"'
VARIABLE = re.compile(r"\(int\) (offset\d+)=(-?\d+)")
PREFIX = re.compile(r"\(str\) (prefix\d+)=")
DATA = {"inputs": list(range(12)), "infos": [x + 4 for x in range(12)]}
VALIDATION = {"inputs": [1, 2, 3], "infos": [5, 6, 7]}
TEST = {"inputs": [4, 5], "infos": [8, 9]}
PRICES = (1e-6, 4e-6)


@bundle()
def show(prefix, value):
    """Formats the answer after the prefix."""
    return f"{prefix} {value}"


@model
class Labeller:
    def __init__(self):
        self.offset = node(0, trainable=True, name="offset", description="added to the input")
        self.prefix = node("Answer:", trainable=True, name="prefix", description="text first")

    def forward(self, x):
        return show(self.prefix, x + self.offset)


def two_objectives(response, reference):
    value = int(str(response).split()[-1])
    return {"accuracy": 1.0 / (1.0 + abs(value - reference)), "brevity": -len(str(response)) / 10}


def scripted_replies():
    """The optimizer's replies: a function of each request, numbered by a counter."""
    counter = itertools.count()

    def reply(request):
        prompt = request["messages"][-1]["content"]
        name, value = VARIABLE.search(prompt).groups()
        prefix = PREFIX.search(prompt).group(1)
        k = next(counter)
        suggestion = {name: int(value) + 1 + k % 2}
        if k == 1:
            suggestion[prefix] = HOSTILE
        if k == 2:
            suggestion[name] = "a lot"  # refused: not an int
            suggestion["temperature"] = 0.5  # unknown: not a parameter
        return json.dumps(
            {
                "reasoning": f"Step {k}: raise the offset. {HOSTILE}",
                "answer": "",
                "suggestion": suggestion,
            }
        )

    return reply


def make_run(run_dir: Path, algorithm: str = "BeamsearchAlgorithm", num_steps: int = 3, **options):
    agent = Labeller()
    llm = ScriptedLLM([scripted_replies()] * 200, prices=PRICES)
    return train(
        model=agent,
        train_dataset=DATA,
        algorithm=algorithm,
        optimizer=OptoPrime(agent.parameters(), llm=llm),
        guide=two_objectives,
        batch_size=2,
        num_steps=num_steps,
        validate_dataset=VALIDATION,
        test_dataset=TEST,
        test_frequency=2,
        objective_config={"mode": "weighted", "weights": {"accuracy": 1.0, "brevity": 0.1}},
        run_dir=run_dir,
        logger="NullLogger",
        **options,
    )
