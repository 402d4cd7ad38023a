"""Optimize numbers from numeric feedback: fit a line through points.

Two trainable numbers (slope and intercept) predict y from x; the feedback is the squared
error and the residuals. Offline, the scripted replies move the numbers the way an LLM that
reads residuals would; with OPTO_LLM_MODEL set a real model does it.

    python examples/numeric.py [--offline] [--steps 6]
"""

from __future__ import annotations

import argparse

from _support import choose_llm, reply, run

from opto import trace
from opto.optimizers import OptoPrime

POINTS = [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]


@trace.bundle()
def squared_error(slope, intercept):
    """Sum over the data points of (slope * x + intercept - y) ** 2."""
    return sum((slope * x + intercept - y) ** 2 for x, y in POINTS)


def feedback(slope: float, intercept: float, loss: float) -> str:
    residuals = [round(slope * x + intercept - y, 3) for x, y in POINTS]
    return (
        f"Squared error {loss:.4f} (0 is perfect). Residuals prediction - target at "
        f"x = {[x for x, _ in POINTS]}: {residuals}. Lower the error."
    )


SCRIPTED_REPLIES = [
    reply(
        "Residuals are all negative and grow with x: raise both.",
        {"slope0": 1.5, "intercept0": 0.5},
    ),
    reply("Still negative and growing: raise the slope more.", {"slope0": 2.0, "intercept0": 0.8}),
    reply(
        "Residuals are a constant -0.2: raise the intercept.", {"slope0": 2.0, "intercept0": 1.0}
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offline", action="store_true", help="use scripted replies")
    parser.add_argument("--steps", type=int, default=len(SCRIPTED_REPLIES))
    args = parser.parse_args()

    llm, scripted = choose_llm(SCRIPTED_REPLIES, args.offline)
    slope = trace.node(1.0, trainable=True, name="slope", description="a real number")
    intercept = trace.node(0.0, trainable=True, name="intercept", description="a real number")
    optimizer = OptoPrime([slope, intercept], llm=llm, memory_size=3)
    steps = min(args.steps, len(SCRIPTED_REPLIES)) if scripted else args.steps
    for step in range(steps + 1):
        loss = squared_error(slope, intercept)
        print(f"step {step}: slope={slope.data} intercept={intercept.data} error={loss.data:.4f}")
        if loss.data < 1e-9 or step == steps:
            break
        optimizer.zero_feedback()
        optimizer.backward(loss, feedback(slope.data, intercept.data, loss.data))
        result = optimizer.step()
        for name, reason in result.refused.items():
            print(f"  refused {name}: {reason}")
        if result.unknown:
            print(f"  ignored names that are not variables: {result.unknown}")


if __name__ == "__main__":
    run(main)
