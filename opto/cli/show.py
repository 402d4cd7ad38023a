"""``opto show PATH``: where a run stands, in a few lines (or as JSON for scripts)."""

from __future__ import annotations

import json
from typing import Any

from opto.cli.resume import GUIDES_NEEDING_CODE
from opto.report import DiscoveryRun, TrainingRun, read
from opto.report.discovery_page import overview_rows as archive_rows
from opto.report.training_page import overview_rows as training_rows
from opto.utils.display import format_score, shorten, text_block

TOP_ENTRIES = 5


def show(path: str, as_json: bool = False) -> str:
    """The text ``opto show`` prints for the run directory or archive at ``path``; with
    ``as_json`` the same summary as JSON, for scripts."""
    data = read(path)
    if as_json:
        return json.dumps(_summary(data), indent=2, ensure_ascii=False)
    if isinstance(data, DiscoveryRun):
        return _archive_text(data)
    return _training_text(data)


def _training_text(run: TrainingRun) -> str:
    lines = [text_block(f"Training run {run.path}", training_rows(run))]
    if run.stopped != "completed" and run.checkpoint_step is not None:
        lines.append(f"\nTo continue: {resume_hint(run)}")
    lines += [f"warning: {problem}" for problem in run.problems]
    return "\n".join(lines)


def resume_hint(run: TrainingRun) -> str:
    """The ``opto resume`` command for this run, from the names it recorded: the model's
    class as a hint, and ``--guide``/``--optimizer`` where the recorded one is not opto's."""
    import opto.optimizers
    import opto.trainer.guide

    model = str(run.components.get("model") or "MODULE:NAME")
    module, _, name = model.partition(":")
    if module == "__main__":
        model = f"YOUR_SCRIPT.py:{name}"
    command = f"opto resume {run.path} --model {model}"
    guide = run.components.get("guide")
    if guide in GUIDES_NEEDING_CODE or not hasattr(opto.trainer.guide, str(guide)):
        command += " --guide MODULE:FUNCTION"
    optimizers = run.components.get("optimizers")
    recorded = optimizers[0] if isinstance(optimizers, list) and optimizers else None
    if recorded is not None and not hasattr(opto.optimizers, str(recorded)):
        command += " --optimizer MODULE:NAME"
    if run.stopped == "budget":
        limit = "max_calls" if run.options.get("max_calls") is not None else "max_cost"
        command += f" --set {limit}=LARGER"
    return command


def _archive_text(archive: DiscoveryRun) -> str:
    lines = [text_block(f"Discovery archive {archive.path}", archive_rows(archive))]
    ranked = sorted(
        (e for e in archive.entries if e.fitness is not None), key=lambda e: (-e.fitness, e.id)
    )[:TOP_ENTRIES]
    if ranked:
        lines.append(f"\nBest {len(ranked)}:")
        for entry in ranked:
            generation = "seed" if entry.origin == "seed" else f"gen {entry.generation}"
            lines.append(
                f"  #{entry.id:<4} {format_score(entry.fitness):>8}  {generation:<7} "
                f"{shorten(entry.name, 50)}"
            )
    return "\n".join(lines)


def _summary(data: TrainingRun | DiscoveryRun) -> dict[str, Any]:
    if isinstance(data, DiscoveryRun):
        best = data.best
        return {
            "kind": "discovery-archive",
            "path": str(data.path),
            "entries": len(data.entries),
            "counts": data.counts(),
            "generations": data.generations,
            "best": None
            if best is None
            else {"id": best.id, "name": best.name, "fitness": best.fitness},
            "usage": data.usage,
        }
    last = data.steps[-1] if data.steps else None
    tests = [row.test for row in data.steps if row.test is not None]
    return {
        "kind": "training-run",
        "path": str(data.path),
        "status": data.status,
        "stopped": data.stopped,
        "stop_reason": data.stop_reason,
        "algorithm": data.algorithm,
        "steps": last.step if last else (data.checkpoint_step or 0),
        "total_steps": data.total_steps,
        "best_score": data.best_score,
        "best_scores": last.best_scores if last else {},
        "test_score": tests[-1] if tests else None,
        "usage": data.usage,
        "elapsed_s": data.elapsed,
        "best_model": str(data.best_model) if data.best_model else None,
        "problems": data.problems,
    }
