"""opto's training algorithms under the names Trace's examples use, each a choice of the loop's parts.

| algorithm | selector | children per parent | acceptance | evaluation | pool policy |
|---|---|---|---|---|---|
| MinibatchAlgorithm | ``BestCandidates(1)`` | 1 | all (or not worse on the batch) | none | ``KeepLatest()`` |
| BasicSearchAlgorithm | ``BestCandidates(1)`` | ``num_proposals`` | all (or not worse) | validation | ``KeepBest(1)`` |
| BeamsearchAlgorithm | ``BestCandidates(beam_width)`` | ``num_proposals`` | all | validation | ``KeepBest(beam_width)`` |
| UCBSearchAlgorithm | ``BestCandidates(1, "ucb")`` | 1 | all | its batch (+ validation if given) | ``KeepBest(max_buffer_size)`` |
| GEPA | ``ParetoSampler(frontier)`` | 1 | better on its batch | its batch + validation | ``KeepBest(max_candidates)`` |

Trace's search-template family (``PrioritySearch`` and its presets) is in ``priority_search``
and ``classical_algorithms``.
"""

from __future__ import annotations

from typing import Any

from opto.trainer.algorithms.acceptance import AcceptAll, AcceptanceCriterion, ImprovementGate
from opto.trainer.algorithms.evaluation_policy import FullValidation, NoValidation
from opto.trainer.algorithms.loop import SearchLoop
from opto.trainer.algorithms.pool_policy import KeepBest, KeepLatest
from opto.trainer.algorithms.selection import BestCandidates, ParetoSampler
from opto.trainer.algorithms.strategies import Strategies


def improvement_gate(options: dict[str, Any]) -> AcceptanceCriterion:
    """Trace's ``ensure_improvement``/``improvement_threshold`` as an acceptance criterion,
    read from the run's resolved ``options``."""
    if options["ensure_improvement"]:
        return ImprovementGate(options["improvement_threshold"])
    return AcceptAll()


class MinibatchAlgorithm(SearchLoop):
    """One optimizer step per minibatch; outputs and feedback of the batch are joined.

    With ``ensure_improvement=True`` a step is kept only if the new values do at least
    ``improvement_threshold`` better on the same minibatch.
    """

    OPTIONS = {"ensure_improvement": False, "improvement_threshold": 0.0}

    def strategies(self, options: dict[str, Any]) -> Strategies:
        return Strategies(
            BestCandidates(1),
            acceptance=improvement_gate(options),
            evaluation=NoValidation(),
            pool_policy=KeepLatest(),
        )


class BasicSearchAlgorithm(SearchLoop):
    """Best-of-N: ``num_proposals`` proposals per step, the best on validation is kept.

    With ``ensure_improvement=True`` a proposal is considered only if it does at least
    ``improvement_threshold`` better than the current values on its minibatch.
    """

    OPTIONS = {"num_proposals": 3, "ensure_improvement": False, "improvement_threshold": 0.0}

    def strategies(self, options: dict[str, Any]) -> Strategies:
        return Strategies(
            BestCandidates(1),
            proposals=options["num_proposals"],
            acceptance=improvement_gate(options),
            evaluation=FullValidation(),
            pool_policy=KeepBest(1),
        )


class BeamsearchAlgorithm(SearchLoop):
    """Beam search: each of the ``beam_width`` best gets ``num_proposals`` children.

    Trace's ``max_depth`` (the number of expansion rounds) is ``num_steps`` here.
    """

    OPTIONS = {"beam_width": 3, "num_proposals": 2}
    ALIASES = {"max_depth": "num_steps"}

    def strategies(self, options: dict[str, Any]) -> Strategies:
        width = options["beam_width"]
        return Strategies(
            BestCandidates(width),
            proposals=options["num_proposals"],
            acceptance=AcceptAll(),
            evaluation=FullValidation(),
            pool_policy=KeepBest(width),
        )


class UCBSearchAlgorithm(SearchLoop):
    """Upper-confidence-bound search: improve the candidate with the highest UCB on
    training batches; the ``max_buffer_size`` best are kept.

    As in Trace, ``max_buffer_size`` and ``ucb_exploration_factor`` may be given to the
    constructor (they become the defaults of ``train``), and ``train`` also takes Trace's
    names ``validation_dataset``, ``num_search_iterations`` (``num_steps``) and
    ``train_batch_size`` (``batch_size``).

    Args:
        agent: the model to train.
        optimizer: an optimizer of the model's parameters (or a list, taking turns).
        max_buffer_size: how many candidates are kept.
        ucb_exploration_factor: the weight of the exploration bonus.
        logger: where values are logged.
        num_threads: how many examples run at once.
        strategies: replaces the UCB strategies (selection, acceptance, evaluation, pool
            policy), as for any ``SearchLoop``.
    """

    OPTIONS = {"ucb_exploration_factor": 1.0, "max_buffer_size": 10}
    ALIASES = {
        "validation_dataset": "validate_dataset",
        "num_search_iterations": "num_steps",
        "train_batch_size": "batch_size",
    }

    def __init__(
        self,
        agent: Any,
        optimizer: Any,
        max_buffer_size: int = 10,
        ucb_exploration_factor: float = 1.0,
        logger: Any = None,
        num_threads: int | None = None,
        strategies: Strategies | None = None,
    ) -> None:
        super().__init__(
            agent, optimizer, num_threads=num_threads, logger=logger, strategies=strategies
        )
        self.OPTIONS = {
            "ucb_exploration_factor": ucb_exploration_factor,
            "max_buffer_size": max_buffer_size,
        }

    def strategies(self, options: dict[str, Any]) -> Strategies:
        validate = options["validate_dataset"] is not None
        return Strategies(
            BestCandidates(1, score="ucb", exploration=options["ucb_exploration_factor"]),
            acceptance=AcceptAll(),
            evaluation=FullValidation(minibatch=True) if validate else NoValidation(minibatch=True),
            pool_policy=KeepBest(options["max_buffer_size"]),
        )


class GEPA(SearchLoop):
    """GEPA-style search over per-example (and per-objective) validation scores.

    Parents are sampled from the candidates that are best on at least one validation example
    (``frontier="instance"``), metric (``"objective"``) or either (``"hybrid"``); a child
    enters the pool only if it beats its parent on its minibatch.
    """

    OPTIONS = {"frontier": "instance", "require_improvement": True, "max_candidates": None}

    def strategies(self, options: dict[str, Any]) -> Strategies:
        strictly_better = ImprovementGate(1e-9)
        return Strategies(
            ParetoSampler(options["frontier"]),
            acceptance=strictly_better if options["require_improvement"] else AcceptAll(),
            evaluation=FullValidation(minibatch=True),
            pool_policy=KeepBest(options["max_candidates"]),
        )


Minibatch = MinibatchAlgorithm
