"""``PrioritySearch``: Trace's priority-queue search (``opto.trainer.algorithms.priority_search``).

Candidates (values for the model's parameters) wait in a priority queue, the *memory*. Each
iteration, on top of ``SearchTemplate``'s loop:

1. the rollouts the exploration candidates collected on the last training batch are added to
   them; for every (candidate, sub-batch) pair the candidate's optimizer (a copy of it, with
   ``decouple_optimizers``) gets the sub-batch's outputs and feedback and proposes
   ``num_proposals`` new values (``propose``);
2. the proposals (``filter_candidates`` may drop some) are run on the validation batch (the
   training batch itself when there is no validation set) (``validate``), and every candidate
   goes back into the memory with its priority (``update_memory``);
3. the best candidate by mean score goes into the agent (``exploit``), and the
   ``num_candidates`` of highest priority are taken out to be run on the next batch
   (``explore``).

Every step is a method a subclass may override, as in Trace; the priorities are in
``CandidatePriorities`` (opto.trainer.algorithms.search_priorities). The first iteration only fills
the memory with copies of the agent. See docs/trainer.md for the options.
"""

from __future__ import annotations

import copy
import heapq
import math
from typing import Any

from opto import trace
from opto.trainer.algorithms.candidate_memory import (
    CANDIDATE_ID_ATTRIBUTE,
    HeapMemory,
    ModuleCandidate,
    ParetoHeapMemory,
)
from opto.trainer.algorithms.proposals import propose_updates
from opto.trainer.algorithms.search_memory_state import MemoryState
from opto.trainer.algorithms.search_priorities import CandidatePriorities
from opto.trainer.objectives import ObjectiveConfig
from opto.trainer.sampler import BatchRollout
from opto.trainer.search_template import Samples, SearchTemplate, save_train_config
from opto.trainer.utils import remap_update_dict, safe_mean
from opto.utils.user_warnings import warn_user

__all__ = ["HeapMemory", "ModuleCandidate", "ParetoHeapMemory", "PrioritySearch", "trace"]

SCORE_FUNCTIONS = ("mean", "ucb", "time")


class PrioritySearch(MemoryState, CandidatePriorities, SearchTemplate):
    """Priority-queue search over candidates (see the module docstring).

    Args:
        agent: the model to train.
        optimizer: an optimizer of the agent's parameters, or a list (used in turn).
        num_threads: how many runs at once by default.
        logger: where values are logged.
    """

    @save_train_config
    def train(
        self,
        guide: Any,
        train_dataset: dict,
        *,
        objective_config: ObjectiveConfig | None = None,
        validate_dataset: dict | None = None,
        validate_guide: Any = None,
        batch_size: int = 1,
        num_batches: int = 1,
        score_range: tuple[float, float] | None = None,
        num_epochs: int | None = 1,
        num_steps: int | None = None,
        num_threads: int | None = None,
        verbose: Any = False,
        test_dataset: dict | None = None,
        test_frequency: int | None = 1,
        num_test_samples: int = 1,
        log_frequency: int | None = None,
        save_frequency: int | None = None,
        save_path: str = "checkpoints/agent.pkl",
        num_candidates: int = 10,
        num_proposals: int = 1,
        validate_exploration_candidates: bool = True,
        use_best_candidate_to_explore: bool = True,
        long_term_memory_size: int | None = None,
        short_term_memory_size: int | None = None,
        memory_update_frequency: int | None = 0,
        score_function: str = "mean",
        ucb_exploration_constant: float = 1.0,
        decouple_optimizers: bool = True,
        **kwargs: Any,
    ):
        """Run the search; returns a ``TrainResult``.

        The options it shares with ``SearchTemplate.train`` mean the same there, in short:
        ``guide`` scores outputs and ``train_dataset`` is ``{"inputs", "infos"}``;
        ``validate_dataset``/``validate_guide`` are where and how candidates are validated
        (default: the training batch, ``guide``); each iteration runs ``num_batches``
        sub-batches of ``batch_size`` inputs; ``score_range`` is ``(min, max)`` of scores; the
        run lasts ``num_epochs`` passes and ``num_steps`` iterations; ``num_threads`` runs at
        once; ``verbose`` prints each phase; ``test_dataset`` is tested every
        ``test_frequency`` iterations with ``num_test_samples`` runs per input; values are
        logged every ``log_frequency`` and saved into ``save_path`` every ``save_frequency``
        iterations. Other keyword arguments are handled as ``SearchTemplate.train`` does.

        Its own options:

        Args:
            objective_config: several metrics: rollouts get ``guide.get_score_dict`` during
                validation; priorities are the weighted sum (or mean) of the metrics, and
                ``mode="pareto"`` pops Pareto-optimal candidates.
            num_candidates: candidates run on each training batch.
            num_proposals: optimizer calls per (candidate, sub-batch).
            validate_exploration_candidates: with a validation set, also run the exploration
                candidates on the validation batch.
            use_best_candidate_to_explore: the best candidate is always explored.
            long_term_memory_size, short_term_memory_size: capacities (None: no limit); the
                long-term memory keeps only scores and feedback of each rollout.
            memory_update_frequency: 0: long-term memory only; None: short-term only; k: the
                short-term memory is merged into the long-term one every k iterations.
            score_function: the priority: ``"mean"`` score, ``"ucb"`` (upper confidence bound;
                needs a finite ``score_range``, (0, 1) by default) or ``"time"`` (newest first).
            ucb_exploration_constant: the weight of the UCB bonus.
            decouple_optimizers: each (candidate, sub-batch) and each proposal gets its own copy
                of the optimizer, whose state then follows the candidate; otherwise one
                optimizer object serves all, one pair after another.
        """
        if score_function not in SCORE_FUNCTIONS:
            raise ValueError(f"Unknown score function: {score_function!r} (use {SCORE_FUNCTIONS})")
        if score_function == "ucb" and score_range is None:
            score_range = (0.0, 1.0)
        if score_function == "ucb" and not all(map(math.isfinite, score_range)):
            raise ValueError("score_function='ucb' needs a finite score_range=(min, max)")
        if num_candidates < len(self._optimizers):
            warn_user(
                f"num_candidates={num_candidates} is less than the number of optimizers "
                f"({len(self._optimizers)}); using {len(self._optimizers)}"
            )
            num_candidates = len(self._optimizers)
        self.num_candidates = num_candidates
        self.num_proposals = num_proposals
        self.validate_exploration_candidates = validate_exploration_candidates
        self.use_best_candidate_to_explore = use_best_candidate_to_explore
        self.score_function = score_function
        self.ucb_exploration_constant = ucb_exploration_constant
        self.decouple_optimizers = decouple_optimizers
        self.objective_config = objective_config
        self.memory_update_frequency = memory_update_frequency
        self._make_memories(long_term_memory_size, short_term_memory_size, objective_config)
        self._enforce_using_data_collecting_candidates = True
        return super().train(
            guide,
            train_dataset,
            validate_dataset=validate_dataset,
            validate_guide=validate_guide,
            batch_size=batch_size,
            num_batches=num_batches,
            score_range=score_range,
            num_epochs=num_epochs,
            num_steps=num_steps,
            num_threads=num_threads,
            verbose=verbose,
            test_dataset=test_dataset,
            test_frequency=test_frequency,
            num_test_samples=num_test_samples,
            log_frequency=log_frequency,
            save_frequency=save_frequency,
            save_path=save_path,
            **kwargs,
        )

    def _make_memories(
        self, long_size: int | None, short_size: int | None, config: ObjectiveConfig | None
    ) -> None:
        """New memories, or, when resuming, the kept ones with the new capacities and the
        last exploration candidates back in them."""
        resuming = getattr(self, "_resume_requested", False)
        self._resume_requested = False
        if resuming and getattr(self, "long_term_memory", None) is not None:
            self.long_term_memory.size = long_size
            self.short_term_memory.size = short_size
            memory = self.memory
            held = {
                id(c)
                for memory_ in (self.long_term_memory, self.short_term_memory)
                for _, c in memory_
            }
            explored = self._exploration_candidates or []
            priorities = self._exploration_candidates_priority or [None] * len(explored)
            for candidate, priority in zip(explored, priorities, strict=True):
                if id(candidate) not in held:
                    memory.push(priority, candidate)
            self._exploration_candidates = self._exploration_candidates_priority = None
            return
        if config is not None and config.mode == "pareto":

            def pareto(size: int | None, processing: Any) -> HeapMemory:
                return ParetoHeapMemory(
                    size,
                    processing,
                    score_dict_fn=lambda c: c.mean_score_dict(),
                    objective_config=config,
                )

            self.long_term_memory = pareto(long_size, self.compress_candidate_memory)
            self.short_term_memory = pareto(short_size, None)
        else:
            self.long_term_memory = HeapMemory(long_size, self.compress_candidate_memory)
            self.short_term_memory = HeapMemory(short_size)
        self._exploration_candidates: list[ModuleCandidate] | None = None
        self._exploration_candidates_priority: list[float] | None = None
        self._best_candidate: ModuleCandidate | None = None
        self._best_candidate_priority: float | None = None

    @property
    def memory(self) -> HeapMemory:
        """The memory in use this iteration (reading it on a merge iteration merges)."""
        if self.memory_update_frequency is None:
            return self.short_term_memory
        if self.memory_update_frequency == 0 or self.short_term_memory.size == 0:
            return self.long_term_memory
        if self.n_iters % self.memory_update_frequency == 0:
            if len(self.short_term_memory):
                self.long_term_memory.append(self.short_term_memory)
                self.short_term_memory.reset()
            return self.long_term_memory
        return self.short_term_memory

    # -- one iteration -----------------------------------------------------------------------

    def update(self, samples: Samples | None = None, verbose: Any = False, **kwargs: Any):
        """Propose, validate and remember candidates; then exploit and explore the memory.

        ``samples`` are the rollouts of the last exploration candidates on a training batch
        (None at the first iteration, which fills the memory with copies of the agent);
        ``verbose`` prints each phase; other keyword arguments go to the optimizer's step.
        Returns the best candidate's update dict, the modules to explore next and an info dict.
        """
        if samples is not None:
            self.add_exploration_rollouts_to_candidates(self._exploration_candidates, samples)
            candidates = self.filter_candidates(self.propose(samples, verbose=verbose, **kwargs))
            results = self.validate(candidates, samples, verbose=verbose, **kwargs)
            self.update_memory(results, verbose=verbose, **kwargs)
        else:
            memory = self.memory
            while len(memory) < min(memory.size, self.num_candidates):
                memory.push(
                    self._seed_priority(), ModuleCandidate(self.agent, optimizer=self.optimizer)
                )
        info = {
            "n_iters": self.n_iters,
            "short_term_memory_size": len(self.short_term_memory),
            "long_term_memory_size": len(self.long_term_memory),
            "using_short_term_memory": self.memory is self.short_term_memory,
            "using_long_term_memory": self.memory is self.long_term_memory,
            "total_samples": sum(
                c.num_rollouts
                for memory in (self.short_term_memory, self.long_term_memory)
                for _, c in memory
            ),
        }
        best, best_priority, info_exploit = self.exploit(verbose=verbose, **kwargs)
        self._best_candidate, self._best_candidate_priority = best, best_priority
        explored, priorities, info_explore = self.explore(verbose=verbose, **kwargs)
        self._exploration_candidates = explored
        self._exploration_candidates_priority = priorities
        info.update(info_exploit)
        info.update(info_explore)
        return best.update_dict, [c.get_module() for c in explored], info

    def propose(self, samples: Samples, verbose: Any = False, **kwargs: Any) -> list:
        """New candidates: for each (exploration candidate, sub-batch) in ``samples``,
        ``num_proposals`` optimizer steps on that sub-batch's outputs and feedback.
        ``verbose`` prints progress; other keyword arguments go to the optimizer's step."""
        if verbose:
            print("--- Proposing new parameters...")
        if not isinstance(samples, Samples):
            raise TypeError(f"samples must be Samples, got {type(samples).__name__}")
        matched = self.match_candidates_and_samples(self._exploration_candidates, samples.samples)
        pairs = [(c, batch) for c, batches in matched.items() for batch in batches]
        return self._propose_from_pairs(pairs, verbose, **kwargs)

    def _propose_from_pairs(
        self, pairs: list[tuple[ModuleCandidate, BatchRollout]], verbose: Any, **kwargs: Any
    ) -> list[ModuleCandidate]:
        bases = [candidate.optimizer or self.optimizer for candidate, _ in pairs]
        updates = propose_updates(
            pairs,
            bases,
            self.num_proposals,
            decouple=self.decouple_optimizers,
            num_threads=self.num_threads,
            step_kwargs={"verbose": verbose, "bypassing": True, **kwargs},
        )
        if not self.decouple_optimizers:
            for optimizer in bases:  # the shared optimizers work on the agent again
                optimizer.parameters = self.agent.parameters()
        return [
            ModuleCandidate(self.agent, remap_update_dict(self.agent, u), o) for o, u in updates
        ]

    def validate(
        self, candidates: list[ModuleCandidate], samples: Samples, verbose: Any = False, **kwargs
    ) -> dict[ModuleCandidate, list[dict]]:
        """Run the new candidates (and, with a validation set, the exploration candidates) on
        the validation batch: ``{candidate: rollout dicts}``; exploration candidates not run
        again map to ``[]``. ``candidates`` are the new proposals; ``samples`` the training
        rollouts of this iteration (reused as the batch with ``use_prev_batch``); ``verbose``
        prints progress."""
        if verbose:
            print("--- Validating candidates...")
        if self._exploration_candidates is None:
            raise ValueError("validate needs the exploration candidates of the last iteration")
        exploration = self._exploration_candidates
        results: dict[ModuleCandidate, list[dict]] = {}
        run: list[BatchRollout] = []
        if candidates:
            rollouts, _ = self.validate_sampler.sample(
                [c.get_module() for c in candidates],
                use_prev_batch=self.use_prev_batch,
                description_prefix="Validating newly proposed candidates: ",
            )
            run.extend(rollouts)
        to_match = list(candidates)
        if self.validate_exploration_candidates and not self.use_prev_batch and exploration:
            rollouts, _ = self.validate_sampler.sample(
                [c.get_module() for c in exploration],
                use_prev_batch=bool(candidates),  # the batch the new candidates ran on
                description_prefix="Validating exploration candidates: ",
            )
            run.extend(rollouts)
            to_match = exploration + to_match
        for candidate, batches in self.match_candidates_and_samples(to_match, run).items():
            results[candidate] = [r for batch in batches for r in batch.to_list()]
        for candidate in exploration:
            results.setdefault(candidate, [])
        if self.objective_config is not None:
            self._add_score_dicts(results)
        return results

    def _add_score_dicts(self, results: dict[ModuleCandidate, list[dict]]) -> None:
        guide = self.validate_sampler.guide
        for rollouts in results.values():
            for rollout in rollouts:
                try:
                    rollout["score_dict"] = guide.get_score_dict(
                        rollout["x"], rollout["target"], rollout["info"]
                    )
                except Exception as error:  # a guide without metrics: priorities use the score
                    warn_user(f"no score dict for a rollout: {error}")

    def match_candidates_and_samples(
        self, candidates: list[ModuleCandidate], samples: list[BatchRollout]
    ) -> dict[ModuleCandidate, list[BatchRollout]]:
        """Group the BatchRollouts ``samples`` by which of ``candidates`` ran them (each
        candidate's module carries its id); a batch from an unknown module is an error."""
        results: dict[ModuleCandidate, list[BatchRollout]] = {c: [] for c in candidates}
        by_id = {id(c): c for c in candidates}
        for batch in samples:
            if not isinstance(batch, BatchRollout):
                raise TypeError(f"samples must be BatchRollouts, got {type(batch).__name__}")
            key = getattr(batch.module, CANDIDATE_ID_ATTRIBUTE, None)
            if key not in by_id:
                raise ValueError(
                    f"ModuleCandidate with id {key} not found in results. Samples are not "
                    "collected by known candidates."
                )
            results[by_id[key]].append(batch)
        if self._enforce_using_data_collecting_candidates:
            idle = [c for c, batches in results.items() if not batches]
            if idle:
                raise ValueError(f"{len(idle)} candidate(s) collected no samples")
        return results

    def update_memory(self, validate_results: dict, verbose: Any = False, **kwargs: Any) -> None:
        """Add each candidate's rollouts to it and push it with its exploration priority.

        ``validate_results`` is what :meth:`validate` returned; ``verbose`` prints progress.
        """
        if verbose:
            print("--- Updating memory with validation results...")
        memory = self.memory
        for candidate, rollouts in validate_results.items():
            candidate.add_rollouts(rollouts)
            memory.push(self.compute_exploration_priority(candidate), candidate)

    def explore(self, verbose: Any = False, **kwargs: Any):
        """Take the ``num_candidates`` candidates of highest priority out of the memory (the
        best candidate first when ``use_best_candidate_to_explore``); ``verbose`` prints
        progress. Returns the candidates, their priorities and an info dict."""
        if verbose:
            print(
                f"--- Generating {min(len(self.memory), self.num_candidates)} exploration candidates..."
            )
        chosen, priorities = [], []
        memory = self.memory
        if self.use_best_candidate_to_explore:
            chosen, priorities = [self._best_candidate], [self._best_candidate_priority]
            # It leaves the memory like every explored candidate (it comes back, with its new
            # priority, after the next validation), rather than staying in it with the old one.
            memory.memory = [e for e in memory.memory if e[1] is not self._best_candidate]
            heapq.heapify(memory.memory)
        while len(chosen) < self.num_candidates and memory:
            negative, candidate = memory.pop()
            if self.use_best_candidate_to_explore and candidate is self._best_candidate:
                continue
            chosen.append(candidate)
            priorities.append(-negative)
        means = [m for m in (c.mean_score() for c in chosen) if m is not None]
        return (
            chosen,
            priorities,
            {
                "num_exploration_candidates": len(chosen),
                "exploration_candidates_mean_priority": safe_mean(priorities),
                "exploration_candidates_mean_score": safe_mean(means),
                "exploration_candidates_average_num_rollouts": safe_mean(
                    [c.num_rollouts for c in chosen]
                ),
            },
        )

    def exploit(self, verbose: Any = False, **kwargs: Any):
        """The candidate of highest exploitation priority (it stays in the memory), its
        priority and an info dict; ``verbose`` prints progress."""
        if verbose:
            print("--- Exploiting the best candidate...")
        if not self.memory:
            raise ValueError("The priority queue is empty. Cannot exploit.")
        negative, best = self.memory.best(self.compute_exploitation_priority)
        return (
            best,
            -negative,
            {
                "best_candidate_priority": -negative,
                "best_candidate_mean_score": best.mean_score(),
                "best_candidate_num_rollouts": best.num_rollouts,
            },
        )

    def compress_candidate_memory(self, candidate: ModuleCandidate) -> ModuleCandidate:
        """A copy of ``candidate`` for the long-term memory: each rollout keeps only its
        score, score dict and feedback."""
        kept = ("score", "score_dict", "feedback")
        compressed = copy.copy(candidate)
        compressed.rollouts = [
            {key: (value if key in kept else None) for key, value in rollout.items()}
            for rollout in candidate.rollouts
        ]
        return compressed

    def filter_candidates(self, candidates: list[ModuleCandidate]) -> list[ModuleCandidate]:
        """Which of the new ``candidates`` are worth validating (here: all; subclasses
        drop duplicates or near-duplicates)."""
        return candidates

    def add_exploration_rollouts_to_candidates(
        self, exploration_candidates: list[ModuleCandidate], samples: Samples
    ) -> None:
        """Give each of ``exploration_candidates`` the training rollouts in ``samples`` that
        its model collected."""
        matched = self.match_candidates_and_samples(exploration_candidates, samples.samples)
        for candidate, batches in matched.items():
            candidate.add_rollouts([r for batch in batches for r in batch.to_list()])

    # -- results and saving ------------------------------------------------------------------

    def _best_score(self) -> float | None:
        return self._best_candidate.mean_score() if self._best_candidate else None
