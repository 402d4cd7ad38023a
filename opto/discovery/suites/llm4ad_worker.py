"""The side of an LLM4AD evaluation that runs inside the sandbox, next to the candidate's code.

:mod:`opto.discovery.suites.llm4ad` appends a two-line driver to the candidate's code and runs it
under a :class:`~opto.runtime.SubprocessPolicy`; the driver calls :func:`score_program` with the
candidate's function. It builds the suite's own ``Evaluation`` object (which generates or loads
the suite's instances) and returns what its ``evaluate_program`` says, as plain data:
``{"ok": True, "score": number}``, or ``{"ok": False, "error": text}`` when the suite's scorer
rejected the heuristic (it returns None for that). Exceptions raised by the candidate, or by the
scorer because of the candidate's output, propagate: the sandbox reports them with the line.
"""

from __future__ import annotations

import importlib
import math
import os
from pathlib import Path
from typing import Any


def score_program(function: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """Score ``function`` with the suite's evaluator named in ``settings``.

    ``settings`` holds ``module`` and ``evaluation`` (where the suite's ``Evaluation`` subclass
    is), ``options`` (its constructor's keyword arguments), ``code`` (the candidate's source, which
    the suite's interface also receives) and ``font_cache``: the host's matplotlib font list as
    ``[file name, text]``, or None (see :func:`_seed_font_cache`).
    """
    _seed_font_cache(settings.get("font_cache"))
    module = importlib.import_module(settings["module"])
    evaluation = getattr(module, settings["evaluation"])(**settings["options"])
    import numpy as np

    with np.errstate(all="ignore"):
        score = evaluation.evaluate_program(settings["code"], function)
    if score is None:
        return {
            "ok": False,
            "error": "the suite's evaluator rejected the heuristic's output (it returned no "
            "score); for example a construction heuristic chose an item or node that was not "
            "available",
        }
    try:
        value = float(score)
    except (TypeError, ValueError):
        return {
            "ok": False,
            "error": f"the suite's evaluator returned {score!r:.100}, not a number",
        }
    if not math.isfinite(value):
        return {"ok": False, "error": f"the suite's evaluator returned {value}, not a finite score"}
    return {"ok": True, "score": value}


def _seed_font_cache(font_cache: list[str] | None) -> None:
    """Give matplotlib the host's font list, in the child's work directory.

    The suite's modules import ``matplotlib.pyplot`` (for plots the evaluation never draws).
    Without a font list in its cache directory, matplotlib builds one by running ``fc-list``, a
    process the sandbox forbids. It also refuses the sandbox's work directory as its cache,
    because ``os.access`` reports it as not writable there (it is), and falls back to a fresh
    temporary directory each time. So the list is written into the work directory, and
    matplotlib is told, before anything else imports it, that this is its config and cache
    directory.
    """
    import logging

    # matplotlib's warnings about the directory would reach the proposer as the code's output
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    if not font_cache:
        return
    name, text = font_cache
    directory = os.environ.get("MPLCONFIGDIR")
    if not directory or name != Path(name).name:
        return
    Path(directory, name).write_text(text, encoding="utf-8")
    import matplotlib

    matplotlib.get_cachedir = matplotlib.get_configdir = lambda: directory
