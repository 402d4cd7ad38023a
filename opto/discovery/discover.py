"""``discover``: the DiscoPOP loop as a short program on opto's core.

Everything a discovery run needs is a part that exists elsewhere: the candidate is a code
parameter and the search is ``optimize_anything`` (the trainer's ``SearchLoop``, its pool as
the archive with lineage and per-candidate scores, its checkpoints as the run directory), the
evaluator is a task's ``evaluator(code) -> (fitness, side_info)`` (``LossEvaluator`` for the
preference task; any suite's task works), novelty filtering is the ``Novelty`` acceptance
criterion, and the proposer is an optimizer: ``TranscriptOptimizer`` for the paper's growing
transcript (following its newest proposal, with ``Newest``), or OptoPrime improving the best
candidate. This module only chooses those parts and writes the DiscoPOP prompts.

Archives written by the earlier ``DiscoveryLoop`` (one JSON file) still load with
``Archive.load`` for reading; ``discover`` refuses to run on one with a message that says how to
start a run from its best loss (``best_code_of_archive``).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opto.discovery.archive import Archive
from opto.discovery.errors import ArchiveError, LossContractError
from opto.discovery.fitness import LossEvaluator
from opto.discovery.interface import loss_function_name
from opto.discovery.losses import REFERENCE_LOSSES, reference_loss_source
from opto.discovery.prompts import seed_message, system_prompt
from opto.discovery.transcript import TranscriptOptimizer
from opto.optimize_anything import (
    EngineConfig,
    GEPAConfig,
    GEPAResult,
    ReflectionConfig,
    optimize_anything,
)
from opto.trainer.algorithms import (
    BestCandidates,
    FullValidation,
    KeepBest,
    Newest,
    Novelty,
    Strategies,
)

DEFAULT_BASELINES = ("dpo", "slic", "ipo", "kto")
PROPOSERS = ("transcript", "optoprime")


def discover(
    llm: Any,
    run_dir: str | os.PathLike | None,
    *,
    generations: int,
    evaluator: Callable[[str], tuple[float, dict[str, Any]]] | None = None,
    baselines: Sequence[str] = DEFAULT_BASELINES,
    seed_code: str | None = None,
    proposer: str = "transcript",
    prompt: str | None = None,
    llm_options: dict[str, Any] | None = None,
    engine: dict[str, Any] | None = None,
    strategies: Strategies | None = None,
    per_seed: bool = False,
) -> GEPAResult:
    """Discover code with ``llm`` for ``generations`` proposals; ``run_dir`` resumes.

    Args:
        llm: the proposer's LLM client.
        run_dir: where the run is saved (checkpoint after every proposal); a directory that
            holds a run is continued. None: not saved.
        generations: the number of proposals (a resumed run finishes the same total).
        evaluator: the task, ``evaluator(code) -> (fitness, side_info)`` (default: the
            preference task, ``LossEvaluator()``).
        baselines: reference losses shown with their fitness in the opening message (names
            of ``REFERENCE_LOSSES``; empty for other tasks).
        seed_code: the first candidate (default: the first baseline's code).
        proposer: ``"transcript"`` (DiscoPOP's chat) or ``"optoprime"``.
        prompt: the system prompt (default: DiscoPOP's, for the evaluator's objective).
        llm_options: further arguments of each LLM call (transcript proposer).
        engine: further ``EngineConfig`` settings (stop conditions, budgets).
        strategies: the search's parts instead of the proposer's defaults.
        per_seed: score each candidate seed by seed (``LossEvaluator`` only): the pool keeps a
            fitness per seed (``val_subscores``), which Pareto selection and cascades
            (``Cascade([Stage([0], min_score=...), Stage()])``) can use; the proposer sees
            the feedback of every seed.
    """
    if proposer not in PROPOSERS:
        raise ValueError(f"proposer must be one of {PROPOSERS}, got {proposer!r}")
    _refuse_old_archive(run_dir)
    unknown = [name for name in baselines if name not in REFERENCE_LOSSES]
    if unknown:
        raise ValueError(
            f"unknown baseline(s) {unknown}; known: {', '.join(sorted(REFERENCE_LOSSES))}"
        )
    task = evaluator if evaluator is not None else LossEvaluator()
    if seed_code is None:
        if not baselines:
            raise ValueError("give seed_code (the first candidate) when there are no baselines")
        seed_code = reference_loss_source(baselines[0])
    if prompt is None:
        if not isinstance(task, LossEvaluator):
            raise ValueError("give prompt (the system prompt) for a task other than LossEvaluator")
        prompt = system_prompt(task.objective, task.contract)
    examples = None
    if per_seed:
        if not isinstance(task, LossEvaluator):
            raise ValueError("per_seed=True needs a LossEvaluator (it scores one seed at a time)")
        examples = list(task.objective.seeds)
    failure = getattr(task, "failure_score", None)
    settings = {
        "max_candidate_proposals": generations,
        "run_dir": None if run_dir is None else str(run_dir),
        "cache_evaluation": True,
        **({"failure_score": failure} if failure is not None else {}),
        **({"reflection_minibatch_size": len(examples)} if examples else {}),
        **(engine or {}),
    }
    if proposer == "transcript":

        def opening() -> str:
            return seed_message([_scored(name, task) for name in baselines])

        def make(parameters: Any, client: Any) -> TranscriptOptimizer:
            return TranscriptOptimizer(
                parameters,
                client,
                system_prompt=prompt,
                opening=opening,
                llm_options=llm_options,
            )

        reflection = ReflectionConfig(reflection_lm=llm, optimizer=make)
        selector: Any = Newest()
    else:
        reflection = ReflectionConfig(reflection_lm=llm)
        selector = BestCandidates(1)
    plan = strategies or Strategies(
        selector, acceptance=Novelty(), evaluation=FullValidation(), pool_policy=KeepBest()
    )
    return optimize_anything(
        seed_code,
        evaluator=task,
        dataset=examples,
        background=prompt if proposer == "optoprime" else None,
        config=GEPAConfig(engine=EngineConfig(**settings), reflection=reflection),
        strategies=plan,
    )


def report(result: GEPAResult) -> str:
    """A table of the run: each candidate's index, parent, function name, status, fitness.

    Args:
        result: what ``discover`` returned. A candidate is valid unless its ``"valid"``
            metric is below 1; its fitness shows the spread over seeds when it has one.
            The last line names the best candidate.
    """
    lines = [f"{'#':<4}{'parent':<8}{'name':<28}{'status':<9}fitness"]
    for index, code in enumerate(result.candidates):
        parent = result.parents[index][0]
        scores = result.val_aggregate_subscores[index]
        valid = scores.get("valid", 1.0) >= 1.0
        fitness = f"{scores['score']:.4f}" if valid and "score" in scores else "-"
        per_seed = list(result.val_subscores[index].values())
        if valid and len(per_seed) > 1:  # scored seed by seed: the sd over seeds
            fitness += f" ± {statistics.stdev(per_seed):.4f}"
        elif valid and "fitness_sd" in scores:
            fitness += f" ± {scores['fitness_sd']:.4f}"
        lines.append(
            f"{index:<4}{'-' if parent is None else parent:<8}{_name(code)[:26]:<28}"
            f"{'valid' if valid else 'invalid':<9}{fitness}"
        )
    best = result.best_idx
    lines.append(f"best: #{best} {_name(result.best_candidate)}, fitness {result.best_score:.4f}")
    return "\n".join(lines)


def best_code_of_archive(path: str | os.PathLike) -> str:
    """The code of the best valid entry of an archive of the earlier ``DiscoveryLoop`` (to
    seed a new run with ``discover(..., seed_code=...)``).

    Args:
        path: the archive file. ``ArchiveError`` when it does not load or has no valid entry.
    """
    best = Archive.load(Path(path)).best()
    if best is None:
        raise ArchiveError(f"the archive {path} has no valid entry to start from")
    return best.code


def _scored(name: str, task: Any) -> tuple[str, str, str]:
    code = reference_loss_source(name)
    score, info = task(code)
    text = str(info.get("feedback", "")).strip().splitlines() if isinstance(info, dict) else []
    summary = text[0] if text else f"score {score:.4f}"
    return name, code, summary


def _name(code: Any) -> str:
    try:
        return loss_function_name(str(code))
    except (SyntaxError, LossContractError):
        return "(no loss function)"


def _refuse_old_archive(run_dir: str | os.PathLike | None) -> None:
    if run_dir is None or not Path(run_dir).is_file():
        return
    try:
        archive = Archive.load(Path(run_dir))
    except ArchiveError:
        raise ArchiveError(
            f"{run_dir} is a file, not a run directory; discover saves a run in a directory"
        ) from None
    raise ArchiveError(
        f"{run_dir} is an archive of the earlier DiscoveryLoop ({len(archive.entries)} entries). "
        "It still loads with opto.discovery.Archive.load(path) (entries, table(), best()), but "
        "discovery now runs on the trainer and saves a run directory. Start a new run in a "
        "directory, from the archive's best loss if you like: discover(llm, 'run-dir', "
        "seed_code=best_code_of_archive(path), ...)."
    )
