"""One adapter per implementation: what differs between opto and trace-opt for the tasks.

The task programs use the API both share (``opto.trace.bundle``/``node``, ``OptoPrime``,
``zero_feedback``/``backward``) directly, and ask an adapter ("side") for the rest:

- ``optimizer(parameters)`` and ``step(optimizer) -> StepStats``;
- ``chat(system, user) -> str``: one call of the task's own LLM agent;
- ``trainable(function)``: the function as trainable code, ``guard()`` around its calls, and
  ``run_code(code, function, args)`` to run generated code in isolation;
- ``counters``: LLM calls and tokens by purpose.

Each adapter imports its implementation, so only the one matching the interpreter is loaded.
"""

from __future__ import annotations

from typing import Any

IMPLEMENTATIONS = ("opto", "trace-opt")


def make_side(impl: str, config: dict) -> Any:
    """The adapter for ``impl`` ("opto" or "trace-opt")."""
    if impl == "opto":
        from qbench.adapters.opto_side import OptoSide

        return OptoSide(config)
    if impl == "trace-opt":
        from qbench.adapters.trace_opt_side import TraceOptSide

        return TraceOptSide(config)
    raise ValueError(f"unknown implementation {impl!r}; known: {', '.join(IMPLEMENTATIONS)}")
