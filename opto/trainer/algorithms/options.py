"""The options of ``train()``: defaults, Trace's names for them, and what is refused.

opto checks option names: a misspelt option is an error, not silently ignored. Trace's
trainers accept any option, and Trace programs rely on it (one dict of options is often given
to several algorithms). So a name that one of Trace's training algorithms takes is accepted by
every opto algorithm: if it means something here it is used (directly or under its opto name),
otherwise it is ignored with an ``IgnoredOptionWarning`` that says so. Names no Trace
algorithm knows are still an error.
"""

from __future__ import annotations

from typing import Any

from opto.trainer.algorithms.base import IgnoredOptionWarning
from opto.trainer.algorithms.stopping import StopCondition
from opto.trainer.guide import as_guide
from opto.trainer.objectives import ObjectiveConfig
from opto.utils.user_warnings import warn_user

COMMON_OPTIONS: dict[str, Any] = {
    "validate_dataset": None,
    "validate_guide": None,
    "test_dataset": None,
    "test_guide": None,
    "test_frequency": None,
    "num_test_samples": 1,
    "batch_size": 1,
    "num_epochs": 1,
    "num_steps": None,
    "num_threads": None,
    "executor": None,
    "progress": False,
    "min_score": None,
    "score_range": None,
    "seed": 0,
    "objective_config": None,
    "run_dir": None,
    "save_frequency": None,
    "save_path": None,
    "resume": False,
    "max_cost": None,
    "max_calls": None,
    "verbose": False,
    "log_frequency": 1,
    "stop_conditions": None,
}
"""Options of ``train()`` for every algorithm; each algorithm adds its own (``OPTIONS``)."""

COMMON_ALIASES = {"eval_frequency": "test_frequency"}
"""Trace's names for opto options, valid for every algorithm (``eval_frequency`` is the name
``test_frequency`` had in earlier Trace versions)."""

TRACE_OPTION_NAMES = frozenset(
    {
        # the minibatch, best-of-N, beam and UCB algorithms of Trace's examples
        "ensure_improvement",
        "improvement_threshold",
        "num_epochs",
        "batch_size",
        "test_dataset",
        "test_frequency",
        "eval_frequency",
        "num_test_samples",
        "log_frequency",
        "save_frequency",
        "save_path",
        "min_score",
        "verbose",
        "num_threads",
        "validate_dataset",
        "validate_guide",
        "num_proposals",
        "objective_config",
        "validation_dataset_size",
        "beam_width",
        "max_depth",
        "max_history_size",
        "validation_dataset",
        "num_search_iterations",
        "train_batch_size",
        "evaluation_batch_size",
        "min_score_for_agent_update",
        "max_buffer_size",
        "ucb_exploration_factor",
        # the search template and priority search
        "num_batches",
        "score_range",
        "num_steps",
        "test_guide",
        "num_candidates",
        "validate_exploration_candidates",
        "use_best_candidate_to_explore",
        "long_term_memory_size",
        "short_term_memory_size",
        "memory_update_frequency",
        "score_function",
        "ucb_exploration_constant",
        "decouple_optimizers",
        "default_score",
        "validate_proposals",
        "memory_size",
        "exploration_ratio",
        "exploration_temperature",
        # GEPA variants of Trace's examples
        "pareto_subset_size",
        "merge_every",
        "num_iters",
    }
)
"""Every ``train()`` option of Trace's training algorithms (package and examples)."""

NOT_SAVED = ("validate_dataset", "validate_guide", "test_dataset", "test_guide", "executor")


def apply_aliases(owner: str, given: dict[str, Any], aliases: dict[str, str]) -> dict[str, Any]:
    """``given`` with Trace's option names replaced by the opto names they stand for.

    ``aliases`` maps Trace names to opto names; ``owner`` is the algorithm's name, used when
    both names of one option are given (an error, since one would silently win).
    """
    renamed = dict(given)
    for trace_name, opto_name in aliases.items():
        if trace_name in renamed:
            if opto_name in renamed:
                raise TypeError(
                    f"{owner}.train() got both {opto_name} and {trace_name} (Trace's name for "
                    f"it); give one"
                )
            renamed[opto_name] = renamed.pop(trace_name)
    return renamed


def drop_trace_only_options(owner: str, unknown: dict[str, Any], strict: bool = True) -> dict:
    """Warn about (and drop) Trace options this algorithm does not use; refuse other names.

    Args:
        owner: the algorithm's name, for the messages.
        unknown: the options the algorithm does not take.
        strict: refuse names no Trace algorithm takes (else return them to the caller).

    Returns the options that are neither used nor Trace's (empty when ``strict``).
    """
    ignored = sorted(name for name in unknown if name in TRACE_OPTION_NAMES)
    rest = {name: value for name, value in unknown.items() if name not in TRACE_OPTION_NAMES}
    if rest and strict:
        raise TypeError(
            f"{owner}.train() got unknown option(s) {sorted(rest)}; neither opto nor Trace "
            "has such an option (check the spelling)"
        )
    if ignored:
        warn_user(
            f"{owner}.train() ignores option(s) {ignored}: Trace's training algorithms take "
            f"them, but they have no effect in opto's {owner}",
            IgnoredOptionWarning,
        )
    return rest


def resolve_options(trainer: Any, given: dict[str, Any]) -> dict[str, Any]:
    """All options of ``trainer.train`` with defaults filled in (see the module docstring).

    ``given`` are the keyword arguments the user passed; Trace's names are translated, Trace
    options opto does not use are dropped with a warning and unknown names are refused.
    """
    owner = type(trainer).__name__
    aliases = {**COMMON_ALIASES, **getattr(trainer, "ALIASES", {})}
    given = apply_aliases(owner, given, aliases)
    known = {**COMMON_OPTIONS, **trainer.OPTIONS}
    drop_trace_only_options(owner, {k: v for k, v in given.items() if k not in known})
    options = {**known, **{k: v for k, v in given.items() if k in known}}
    if options["num_threads"] is None:
        options["num_threads"] = trainer.num_threads
    if options["run_dir"] is None and options["save_path"] is not None:
        options["run_dir"] = options["save_path"]
    if options["min_score"] is None:
        options["min_score"] = options["score_range"][0] if options["score_range"] else 0.0
    if options["run_dir"] is not None and options["save_frequency"] is None:
        options["save_frequency"] = 1
    for name in ("validate_guide", "test_guide"):  # a metric function works as for guide=
        if options[name] is not None:
            options[name] = as_guide(options[name])
    options["stop_conditions"] = _stop_conditions(owner, options["stop_conditions"])
    objective = options["objective_config"]
    if isinstance(objective, dict):
        objective = ObjectiveConfig(**objective)
    options["objective_config"] = objective or ObjectiveConfig()
    return options


def options_to_save(options: dict[str, Any]) -> dict[str, Any]:
    """The options a run directory records (datasets, guides and executors are not JSON)."""
    saved = {k: v for k, v in options.items() if k not in NOT_SAVED and k != "save_path"}
    saved["objective_config"] = options["objective_config"].to_dict()
    saved["run_dir"] = str(saved["run_dir"]) if saved["run_dir"] else None
    saved["stop_conditions"] = [repr(condition) for condition in saved["stop_conditions"]]
    return saved


def _stop_conditions(owner: str, given: Any) -> list[StopCondition]:
    """The ``stop_conditions`` option as a list, each a ``StopCondition``."""
    conditions = [] if given is None else [given] if isinstance(given, StopCondition) else given
    conditions = list(conditions)
    wrong = [c for c in conditions if not isinstance(c, StopCondition)]
    if wrong:
        raise TypeError(
            f"{owner}.train() stop_conditions must be StopCondition objects "
            f"(opto.trainer.algorithms.stopping), got {type(wrong[0]).__name__}"
        )
    return conditions
