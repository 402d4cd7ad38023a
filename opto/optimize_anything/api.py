"""``optimize_anything``: improve any text or code against an evaluator, on opto's core.

The call takes GEPA's arguments (``seed_candidate``, ``evaluator``, ``dataset``, ``valset``,
``objective``, ``background``, ``config``) and returns GEPA's result fields. Underneath it is
nothing but opto's parts: the candidate is a model of trainable parameters
(``opto.optimize_anything.candidate``), an opto optimizer (OptoPrime by default) proposes
new values from the evaluator's side information, and the search is the trainer's
``SearchLoop``: its pool is the archive (lineage, deduplication, a score per validation
example), its checkpoints make a run directory resumable, and its stop conditions end it.

Three modes, as in GEPA: without ``dataset`` one problem is solved (the evaluator is called
as ``evaluator(candidate)``); with ``dataset`` proposals learn from minibatches of it and
candidates are scored on ``valset`` (``dataset`` when not given), each example separately, with
``evaluator(candidate, example)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opto.optimize_anything.candidate import CandidateModel, EvaluationCache
from opto.optimize_anything.config import EngineConfig, GEPAConfig, ReflectionConfig
from opto.optimize_anything.result import GEPAResult, result_from_pool
from opto.optimize_anything.side_info import EvaluationRecord, feedback_text
from opto.trainer.algorithms.acceptance import AcceptAll, ImprovementGate
from opto.trainer.algorithms.evaluation_policy import FullValidation
from opto.trainer.algorithms.loop import SearchLoop
from opto.trainer.algorithms.pool_policy import KeepBest
from opto.trainer.algorithms.selection import BestCandidates, ParetoSampler
from opto.trainer.algorithms.stopping import (
    MaxEvaluations,
    NoImprovement,
    ScoreThreshold,
    StopCondition,
    StopFile,
    TimeLimit,
)
from opto.trainer.algorithms.strategies import Strategies
from opto.trainer.guide import Guide
from opto.trainer.loggers import NullLogger
from opto.trainer.objectives import ObjectiveConfig

TEXT_KEY = "candidate"
"""The component name a string seed is kept under."""

NO_STEP_LIMIT = 2**62
"""The step limit when only other conditions end the run (``EngineConfig.has_limit``)."""

GAIN = 1e-9
"""How much better than its parent a child must do on its minibatch to be validated."""


class SideInfoGuide(Guide):
    """Reads an ``EvaluationRecord`` (the model's output): its scores, and its side info
    rendered as the feedback."""

    def get_feedback(
        self, query: Any, response: Any, reference: Any = None, **kwargs: Any
    ) -> tuple[dict[str, float], str]:
        if not isinstance(response, EvaluationRecord):
            raise TypeError(f"expected an EvaluationRecord, got {type(response).__name__}")
        return response.score_dict(), feedback_text(response)


def optimize_anything(
    seed_candidate: str | dict[str, str],
    *,
    evaluator: Callable[..., Any],
    dataset: Sequence[Any] | None = None,
    valset: Sequence[Any] | None = None,
    objective: str | None = None,
    background: str | None = None,
    config: GEPAConfig | None = None,
    code_components: bool | Sequence[str] = False,
    policy: Any = None,
    strategies: Strategies | None = None,
    objective_config: ObjectiveConfig | None = None,
    stop_conditions: Sequence[StopCondition] = (),
    logger: Any = None,
) -> GEPAResult:
    """Improve ``seed_candidate`` so that ``evaluator`` scores it higher.

    Args:
        seed_candidate: the starting artifact: a string, or ``{component name: string}``.
        evaluator: ``evaluator(candidate)`` (or ``evaluator(candidate, example)`` with a
            dataset) returns a score, or ``(score, side_info)`` with a dict of whatever
            explains the score; it all becomes the feedback (``side_info`` module).
        dataset: examples proposals learn from (GEPA's multi-task and generalisation modes).
        valset: examples candidates are scored on (default: ``dataset``).
        objective: what to optimize for, in words (shown to the optimizer).
        background: what the optimizer should know about the domain.
        config: ``GEPAConfig`` (limits, run directory, optimizer, LLM).
        code_components: components that are Python source of a function (``True``: all);
            the evaluator receives them as loaded functions.
        policy: the execution policy code components run under (``"subprocess"`` for the
            sandbox; default: the runtime's default policy).
        strategies: the search's parts (``opto.trainer.algorithms``: selector, acceptance,
            evaluation policy, pool policy) instead of the defaults below.
        objective_config: how candidates rank when the side info has further ``"scores"``
            (default: by ``"score"``).
        stop_conditions: further ``StopCondition`` objects.
        logger: a trainer logger (default: none).

    By default the parent is the best candidate (or, with ``candidate_selection_strategy=
    "pareto"`` and several validation examples, a candidate best on some of them); with a
    dataset a child must beat its parent on its minibatch before it is scored on ``valset``.
    """
    config = config or GEPAConfig()
    engine, reflection = config.engine, config.reflection
    components, as_text = _components(seed_candidate)
    code = _code_names(code_components, components)
    examples = list(dataset) if dataset is not None else None
    if not engine.has_limit() and not stop_conditions:
        raise ValueError(
            "optimize_anything needs a limit: set max_metric_calls, max_candidate_proposals, "
            "max_seconds, max_cost, max_llm_calls or patience in EngineConfig"
        )
    model = CandidateModel(
        components,
        evaluator,
        as_text=as_text,
        with_example=examples is not None,
        code=code,
        policy=policy,
        description=_description(objective, background),
        failure_score=engine.failure_score,
        capture_stdio=engine.capture_stdio,
        cache=EvaluationCache() if engine.cache_evaluation else None,
    )
    optimizer = _optimizer(reflection, model)
    validation = list(valset) if valset is not None else examples
    plan = strategies or _default_strategies(engine, examples, validation)
    objective_config = objective_config or ObjectiveConfig(scalarize_dict="score")
    train_data = _as_data(examples if examples is not None else [None])
    validate_data = _as_data(validation if validation is not None else [None])
    loop = SearchLoop(
        model,
        optimizer,
        num_threads=engine.num_threads,
        logger=logger or NullLogger(),
        strategies=plan,
    )
    outcome = loop.train(
        SideInfoGuide(),
        train_data,
        validate_dataset=validate_data,
        batch_size=min(engine.reflection_minibatch_size, len(train_data["inputs"]))
        if examples is not None
        else 1,
        num_steps=engine.max_candidate_proposals
        if engine.max_candidate_proposals is not None
        else NO_STEP_LIMIT,
        run_dir=engine.run_dir,
        resume=engine.run_dir is not None,
        seed=engine.seed,
        max_cost=engine.max_cost,
        max_calls=engine.max_llm_calls,
        min_score=engine.failure_score,
        objective_config=objective_config,
        stop_conditions=[*_engine_conditions(engine), *stop_conditions],
    )
    return result_from_pool(
        loop.state.pool,
        model.candidate,
        objective_config,
        validation_size=len(validate_data["inputs"]),
        evaluations=loop.state.evaluations,
        run_dir=outcome.run_dir,
        seed=engine.seed,
        stopped=outcome.stopped,
        usage=outcome.usage,
    )


def _components(seed: Any) -> tuple[dict[str, str], bool]:
    if isinstance(seed, str):
        return {TEXT_KEY: seed}, True
    if isinstance(seed, dict) and seed:
        wrong = [k for k, v in seed.items() if not isinstance(k, str) or not isinstance(v, str)]
        if wrong:
            raise TypeError(f"seed_candidate's components must be str -> str; {wrong[0]!r} is not")
        return dict(seed), False
    raise TypeError(
        "seed_candidate must be a string or a non-empty dict of named string components, "
        f"got {type(seed).__name__}"
    )


def _code_names(given: bool | Sequence[str], components: dict[str, str]) -> list[str]:
    if given is True:
        return list(components)
    if given is False or given is None:
        return []
    names = [given] if isinstance(given, str) else list(given)
    unknown = [name for name in names if name not in components]
    if unknown:
        raise ValueError(f"code_components names {unknown}, not components of the seed")
    return names


def _description(objective: str | None, background: str | None) -> str:
    parts = ["Scores the candidate's components with the evaluator (higher is better)."]
    if objective:
        parts.append(f"Objective: {objective.strip()}")
    if background:
        parts.append(f"Background: {background.strip()}")
    return "\n".join(parts)


def _optimizer(reflection: ReflectionConfig, model: CandidateModel) -> Any:
    import opto.optimizers as optimizers
    from opto.llm import LLM

    llm = reflection.reflection_lm
    if isinstance(llm, str):
        llm = LLM(llm)
    chosen = reflection.optimizer
    if isinstance(chosen, str):
        if chosen not in optimizers.__all__:
            raise ValueError(
                f"unknown optimizer {chosen!r}; opto.optimizers has {optimizers.__all__}"
            )
        chosen = getattr(optimizers, chosen)
    if isinstance(chosen, type):
        return chosen(model.parameters(), llm=llm, **reflection.optimizer_kwargs)
    return chosen(model.parameters(), llm)


def _default_strategies(
    engine: EngineConfig, examples: list | None, validation: list | None
) -> Strategies:
    several = validation is not None and len(validation) > 1
    pareto = engine.candidate_selection_strategy == "pareto" and several
    return Strategies(
        ParetoSampler("instance") if pareto else BestCandidates(1),
        acceptance=AcceptAll() if examples is None else ImprovementGate(GAIN),
        evaluation=FullValidation(),
        pool_policy=KeepBest(),
    )


def _engine_conditions(engine: EngineConfig) -> list[StopCondition]:
    conditions: list[StopCondition] = []
    if engine.max_metric_calls is not None:
        conditions.append(MaxEvaluations(engine.max_metric_calls))
    if engine.max_seconds is not None:
        conditions.append(TimeLimit(engine.max_seconds))
    if engine.score_threshold is not None:
        conditions.append(ScoreThreshold(engine.score_threshold))
    if engine.patience is not None:
        conditions.append(NoImprovement(engine.patience))
    if engine.stop_file is not None:
        conditions.append(StopFile(engine.stop_file))
    return conditions


def _as_data(examples: list) -> dict[str, list]:
    return {"inputs": list(examples), "infos": [None] * len(examples)}
