"""``opto resume RUN_DIR --model MODULE:NAME``: continue a run from its last checkpoint.

A run directory holds values, not code: the model (and a guide that wraps a function) must be
named on the command line. The optimizer and guide default to the names the run recorded,
looked up only among opto's own classes.
"""

from __future__ import annotations

import json
from typing import Any

from opto.cli.errors import BUDGET_STOPPED, OK, RUN_UNREADABLE, USAGE, CommandError
from opto.cli.targets import load_target
from opto.report import read_run
from opto.trace.modules import Module
from opto.trace.nodes import ParameterNode
from opto.trainer import resume

GUIDES_NEEDING_CODE = ("MetricGuide",)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """The ``--set`` options as a dict: ``items`` are ``KEY=VALUE`` texts; a value is read as
    JSON when it is JSON (``5``, ``0.5``, ``true``, ``null``, ``[1, 2]``), else kept as text."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, separator, raw = item.partition("=")
        if not separator or not key.strip():
            raise CommandError(f"--set takes KEY=VALUE, got {item!r}", USAGE)
        try:
            overrides[key.strip()] = json.loads(raw)
        except ValueError:
            overrides[key.strip()] = raw
    return overrides


def model_from(spec: str) -> Any:
    """The model ``spec`` names: an instance, or a class or function that makes one."""
    value = load_target(spec, "--model")
    if not isinstance(value, (Module, ParameterNode)) and callable(value):
        try:
            value = value()
        except TypeError as error:
            raise CommandError(
                f"--model {spec}: cannot be called without arguments ({error}); name an "
                "instance, or a function without arguments that returns the model",
                USAGE,
            ) from None
    if not isinstance(value, (Module, ParameterNode)):
        raise CommandError(
            f"--model {spec} is a {type(value).__name__}, not an opto Module or ParameterNode",
            USAGE,
        )
    return value


def component(given: str | None, recorded: Any, what: str) -> Any:
    """The guide or optimizer to resume with (``what`` is ``"guide"`` or ``"optimizer"``).

    ``given`` is the command-line value: a name of opto's or ``MODULE:NAME`` (loaded). Without
    it the name ``recorded`` in the run is used, unless that component wraps user code, which
    only the user can name. ``None`` means neither says.
    """
    if given is not None:
        return load_target(given, f"--{what}") if ":" in given else given
    if isinstance(recorded, str) and recorded.isidentifier():
        if recorded in GUIDES_NEEDING_CODE:
            raise CommandError(
                f"this run's {what} is a {recorded} around a function of yours: name it with "
                f"--{what} MODULE:FUNCTION",
                USAGE,
            )
        return recorded
    return None


def resume_run(
    run_dir: str,
    model: str,
    guide: str | None = None,
    optimizer: str | None = None,
    overrides: list[str] | None = None,
    logger: str = "ConsoleLogger",
) -> int:
    """Resume the run; the exit code (``BUDGET_STOPPED`` if it stopped on its budget).

    ``run_dir`` is the run directory with a checkpoint; ``model`` names the model to load the
    checkpoint into (``MODULE:NAME`` of an instance, or of a callable without arguments that
    makes one) because a checkpoint holds values, not code. ``guide`` and ``optimizer`` name
    components when the recorded names are not enough; ``overrides`` are ``KEY=VALUE`` texts
    that change training options; ``logger`` is the logger class to report with.
    """
    run = read_run(run_dir)  # a missing or damaged directory is reported before any import
    if run.checkpoint_step is None:
        raise CommandError(
            f"{run.path} has no checkpoint to resume from: start the run with train(...)",
            RUN_UNREADABLE,
        )
    recorded_optimizers = run.components.get("optimizers")
    recorded_optimizer = (
        recorded_optimizers[0]
        if isinstance(recorded_optimizers, list) and len(recorded_optimizers) == 1
        else None
    )
    agent = model_from(model)
    guide_spec = component(guide, run.components.get("guide"), "guide")
    if guide_spec is None:
        raise CommandError("this run records no guide: name one with --guide", USAGE)
    result = resume(
        run.path,
        model=agent,
        guide=guide_spec,
        optimizer=component(optimizer, recorded_optimizer, "optimizer"),
        logger=logger,
        **parse_overrides(overrides or []),
    )
    return BUDGET_STOPPED if result.stopped == "budget" else OK
