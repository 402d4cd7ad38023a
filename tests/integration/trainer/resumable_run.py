"""Child process of the kill/resume test: train the toy agent against the toy server.

    python resumable_run.py <server url> <run dir>

Both calls (the first, which the test kills, and the second, which resumes) run the same
script: ``train(..., run_dir=..., resume=True)`` starts or continues. Prints the result as JSON.
"""

from __future__ import annotations

import json
import sys

from opto.llm import LLM
from opto.optimizers import OptoPrime
from opto.trace import bundle, model, node
from opto.trainer import MetricGuide, train
from opto.trainer.loggers import NullLogger

CLIENT = None
DATASET = {"inputs": [1, 2, 3, 4, 5, 6], "infos": [8, 9, 10, 11, 12, 13]}


@bundle()
def add_with_llm(x, offset):
    """Asks the model for x + offset."""
    reply = CLIENT(messages=[{"role": "user", "content": f"Add {x} and {offset}."}], max_tokens=8)
    return int(reply.content)


@model
class Calculator:
    def __init__(self):
        self.offset = node(0, trainable=True, name="offset")

    def forward(self, x):
        return add_with_llm(x, self.offset)


def closeness(response, reference):
    return 1.0 / (1.0 + abs(response - reference))


def feedback(query, response, reference, score):
    gap = reference - response
    if gap == 0:
        return "Correct."
    return f"The output is too {'small' if gap > 0 else 'large'} by {abs(gap)}."


def main(url: str, run_dir: str) -> None:
    global CLIENT
    CLIENT = LLM("toy", base_url=url, api_key="local")
    agent = Calculator()
    optimizer = OptoPrime(agent.parameters(), llm=LLM("toy", base_url=url, api_key="local"))
    result = train(
        model=agent,
        train_dataset=DATASET,
        optimizer=optimizer,
        guide=MetricGuide(closeness, feedback=feedback),
        logger=NullLogger(),
        batch_size=2,
        num_epochs=2,
        num_threads=1,
        run_dir=run_dir,
        resume=True,
    )
    print(
        json.dumps(
            {
                "parameters": result.best_parameters,
                "train_scores": result.train_scores,
                "steps": result.steps,
                "stopped": result.stopped,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
