"""``opto estimate SCRIPT [ARGS...]``: what a training script would spend, without spending.

The script runs as ``python SCRIPT ARGS`` would, until its first ``train(...)`` call; that
call projects the run (see ``opto.trainer.estimate``) instead of training, and the script
stops there. No model is called: the projection measures one real prompt under a dry run.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

from opto.cli.errors import USAGE, CommandError
from opto.trainer.estimate import Estimate, EstimateReady, estimating_scripts


def estimate_script(script: str, arguments: list[str]) -> Estimate:
    """Run ``script`` up to its first ``train()`` and return that run's projection.

    ``arguments`` become the script's ``sys.argv[1:]`` while it runs, so a script that reads
    its own command line sees what the user passed after ``opto estimate SCRIPT``.
    """
    path = Path(script)
    if not path.is_file():
        raise CommandError(f"no script {script}", USAGE)
    saved_argv, saved_path = list(sys.argv), list(sys.path)
    sys.argv = [str(path), *arguments]
    sys.path.insert(0, str(path.resolve().parent))
    try:
        with estimating_scripts():
            runpy.run_path(str(path), run_name="__main__")
    except EstimateReady as ready:
        return ready.estimate
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    raise CommandError(f"{script} finished without calling opto.trainer.train(...)")


def estimate_json(estimate: Estimate) -> str:
    """The projection ``estimate`` as JSON (totals, parts, examples, notes), for scripts."""
    return json.dumps(
        {
            "algorithm": estimate.algorithm,
            "steps": estimate.steps,
            "calls": estimate.calls,
            "prompt_tokens": estimate.prompt_tokens,
            "completion_tokens": estimate.completion_tokens,
            "tokens": estimate.tokens,
            "cost": estimate.cost,
            "unpriced_models": estimate.unpriced,
            "optimizer_prompt_tokens": estimate.prompt_tokens_per_step,
            "assumed_reply_tokens": estimate.reply_tokens,
            "assumed_reasoning_tokens": estimate.reasoning_tokens,
            "parts": estimate.parts,
            "examples": estimate.examples,
            "notes": estimate.notes,
        },
        indent=2,
    )
