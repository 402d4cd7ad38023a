"""A CPU-only toy model and guide, at module level so that other processes can unpickle them."""

from __future__ import annotations

from opto.trace import bundle, model, node
from opto.trainer import MetricGuide


@bundle()
def shifted(x, offset):
    """x + offset; fails on multiples of 17, so that some examples end in an error."""
    if x % 17 == 0:
        raise ValueError(f"{x} is a multiple of 17")
    return x + offset


@model
class Shifter:
    def __init__(self, offset: int = 0):
        self.offset = node(offset, trainable=True, name="offset")

    def forward(self, x):
        return shifted(x, self.offset)


def closeness(response, reference):
    return {
        "closeness": 1.0 / (1.0 + abs(response - reference)),
        "exact": float(response == reference),
    }


def make_guide() -> MetricGuide:
    return MetricGuide(closeness)


def dataset(size: int, target_offset: int = 3) -> dict:
    inputs = list(range(1, size + 1))
    return {"inputs": inputs, "infos": [x + target_offset for x in inputs]}


@model
class Dice:
    """Answers with a fresh random number each call: samples of one example must differ."""

    def forward(self, x):
        import random

        return random.random()


def the_response(response, reference):
    return response
