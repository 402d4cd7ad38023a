"""The one training loop. Every algorithm is this loop with other ``Strategies``.

A step: the selector picks parents; for each, ``proposals`` times, the loop draws a minibatch,
runs the parent on it (threads), joins the outputs and feedback into one node and one text, and
lets the optimizer propose new values without applying them: a child. Children may be scored
on their minibatch and must pass the acceptance criterion; the evaluation policy scores them
further (validation); the pool policy keeps what it keeps and names the current candidate,
whose values go into the model. Then the loop logs and, every ``save_frequency`` steps, writes
the ``RunState`` as a checkpoint. A budget error stops the run cleanly at the last completed
step.

``SearchLoop`` holds what the user built (model, optimizers, strategies); each ``train`` call
is a ``LoopRun``, which holds that run's options, data, scoring and output, and its
``RunState``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from opto.llm.errors import BudgetError
from opto.trainer.algorithms.acceptance import Trial
from opto.trainer.algorithms.base import Trainer, TrainResult, as_optimizer_list
from opto.trainer.algorithms.candidate_scoring import CandidateScoring, RunValidationSet
from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.algorithms.options import options_to_save, resolve_options
from opto.trainer.algorithms.run_output import RunOutput
from opto.trainer.algorithms.run_state import RunState
from opto.trainer.algorithms.stopping import Progress, first_reason
from opto.trainer.algorithms.strategies import BestCandidates, Strategies
from opto.trainer.checkpoint import (
    CheckpointError,
    encode_snapshot,
    fingerprint,
    run_budget,
    run_cache,
)
from opto.trainer.evaluators import run_calls, standard_forward
from opto.trainer.guide import as_guide
from opto.trainer.loader import DataLoader, check_dataset
from opto.trainer.naming import canonical_model_names, canonical_names, model_nodes
from opto.trainer.objectives import ObjectiveConfig, aggregate_score_dicts, scalarize, to_score_dict
from opto.trainer.run_record import describe_components
from opto.trainer.snapshots import apply_snapshot, paths_by_parameter, snapshot_key, take_snapshot
from opto.trainer.utils import batchify, id_lines
from opto.utils.json_values import storage_problem
from opto.utils.user_warnings import warn_user


class SearchLoop(Trainer):
    """``SearchLoop(agent, optimizer, strategies=...)``; presets subclass it with defaults.

    Args:
        agent: the model to train.
        optimizer: an optimizer of the model's parameters, or a list (taking turns by step).
        num_threads: how many examples run at once by default.
        logger: where values are logged.
        strategies: the parts of the algorithm (default: improve the best candidate, keep all).

    After ``train``, ``options`` are the run's options (defaults filled in), ``state`` its
    ``RunState`` (``pool`` its pool) and ``objective`` the ``ObjectiveConfig`` it ranked by.
    """

    def __init__(
        self,
        agent: Any,
        optimizer: Any,
        num_threads: int | None = None,
        logger: Any = None,
        strategies: Strategies | None = None,
    ) -> None:
        super().__init__(agent, num_threads=num_threads, logger=logger)
        self.optimizers = as_optimizer_list(optimizer)
        self.optimizer = self.optimizers[0]
        self._strategies = strategies
        self.options: dict[str, Any] | None = None
        self.state: RunState | None = None
        self.objective: ObjectiveConfig | None = None

    def strategies(self, options: dict[str, Any]) -> Strategies:
        """The strategies for these options (presets override this)."""
        return self._strategies or Strategies(BestCandidates(1))

    @property
    def pool(self) -> Pool | None:
        """The pool of the last run (None before ``train``)."""
        return None if self.state is None else self.state.pool

    def train(self, guide: Any, train_dataset: dict, **options: Any) -> TrainResult:
        """Run the loop (see the module docstring and docs/trainer.md for the options).

        ``guide`` scores outputs and writes feedback; ``train_dataset`` is
        ``{"inputs": [...], "infos": [...]}``; ``options`` are checked against the
        algorithm's ``OPTIONS`` (an unknown name is an error, not ignored).
        """
        self.options = resolve_options(self, options)
        run = LoopRun(self, guide, train_dataset, self.options)
        self.state, self.objective = run.state, run.objective
        return run.execute()


class LoopRun:
    """One ``train`` call of a ``SearchLoop``: opens (or continues) the run and runs it.

    Args:
        trainer: the ``SearchLoop``.
        guide: scores outputs and gives feedback.
        train_dataset: the training data.
        options: the resolved options (``resolve_options``).
    """

    def __init__(self, trainer: SearchLoop, guide: Any, train_dataset: dict, options: dict) -> None:
        self.trainer = trainer
        self.agent = trainer.agent
        self.optimizers = trainer.optimizers
        self.guide = as_guide(guide)
        self.options = options
        self.objective: ObjectiveConfig = options["objective_config"]
        self.plan = trainer.strategies(options)
        self.train_data = check_dataset(train_dataset, "train_dataset")
        validate_data = check_dataset(
            options["validate_dataset"] or train_dataset, "validate_dataset"
        )
        test = options["test_dataset"]
        self.test_data = check_dataset(test, "test_dataset") if test else None
        self.fingerprints = {
            "train": fingerprint(self.train_data),
            "validate": fingerprint(validate_data),
            "test": fingerprint(self.test_data),
        }
        self.scoring = CandidateScoring(self.agent, options, on_examples=self._count)
        self.validation = RunValidationSet(
            self.scoring, validate_data, options["validate_guide"] or self.guide
        )
        self.paths = paths_by_parameter(self.agent)
        self.output = RunOutput(trainer.logger, options["run_dir"])
        self.resumed = self.output.has_checkpoint()
        if self.resumed and not options["resume"]:
            raise CheckpointError(
                f"{self.output.directory.path} already holds a run; pass resume=True (or call "
                "opto.trainer.resume) to continue it, or choose another run_dir"
            )
        self.state = self._continued() if self.resumed else self._started()
        self.committed = self.state.to_json()

    def _started(self) -> RunState:
        loader = DataLoader(
            self.train_data, batch_size=self.options["batch_size"], seed=self.options["seed"]
        )
        return RunState.start(
            type(self.trainer).__name__,
            loader,
            self.optimizers,
            take_snapshot(self.agent),
            self.options["seed"],
            self.fingerprints,
        )

    def _continued(self) -> RunState:
        loader = DataLoader(
            self.train_data, batch_size=self.options["batch_size"], seed=self.options["seed"]
        )
        state = RunState.from_json(
            self.output.read_checkpoint(),
            algorithm=type(self.trainer).__name__,
            loader=loader,
            optimizers=self.optimizers,
            fingerprints=self.fingerprints,
            model_values=take_snapshot(self.agent),
            source=str(self.output.directory.checkpoint_path),
        )
        state.stopped = None  # it runs again
        apply_snapshot(self.agent, state.current.snapshot)
        return state

    # -- the run ---------------------------------------------------------------------------

    def execute(self) -> TrainResult:
        """Run until the steps or epochs are done or the budget runs out."""
        state, opts = self.state, self.options
        cache_dir = self.output.directory.cache_dir if self.output.directory else None
        stopped = "completed"
        conditions = list(opts["stop_conditions"] or ())
        with (
            run_cache(cache_dir),
            state.usage.counting(),
            run_budget(opts["max_cost"], opts["max_calls"], state.usage.totals()),
        ):
            if self.resumed:
                self.output.event("resume", state.step, f"at step {state.step}")
            else:
                self._record_start()
            try:
                self._validate_pending()
                if state.step == 0 and self._testing() and opts["test_frequency"] > 0:
                    self._test()  # a negative test_frequency skips this first test
                while not self._done():
                    reason = first_reason(conditions, self._progress())
                    if reason:
                        stopped = reason
                        break
                    self._after_step(self._step())
                tested_now = bool(state.test_scores) and state.test_scores[-1][0] == state.step
                if self.test_data is not None and not tested_now:
                    self._test()  # the final test, unless this step was just tested
            except BudgetError as error:
                stopped = "budget"
                state.restore(self.committed)
                self.output.event("stop", state.step, f"budget: {error}")
        return self._finish(stopped)

    def _record_start(self) -> None:
        self.output.record_start(
            {
                "algorithm": type(self.trainer).__name__,
                "options": options_to_save(self.options),
                "components": describe_components(self.trainer, self.guide),
                "fingerprints": self.fingerprints,
            },
            {
                "train": self.train_data,
                "validate": self.options["validate_dataset"],
                "test": self.options["test_dataset"],
            },
        )
        self.output.event("start", 0, type(self.trainer).__name__)

    def _progress(self) -> Progress:
        state = self.state
        best = state.current
        return Progress(
            step=state.step,
            evaluations=state.evaluations,
            elapsed=state.elapsed(),
            best_score=best.score(self.objective),
            best_step=best.step,
        )

    def _count(self, examples: int) -> None:
        """Add scored examples to the run's count (``CandidateScoring`` reports them)."""
        self.state.evaluations += examples

    def _done(self) -> bool:
        if self.options["num_steps"] is not None:
            return self.state.step >= self.options["num_steps"]
        return self.state.epoch >= self.options["num_epochs"]

    def _step(self) -> dict[str, int]:
        """One step (see the module docstring); returns its counts for the step record."""
        state, plan = self.state, self.plan
        step = state.step + 1
        epoch = state.epoch + 1  # the epoch (from 1) this step's first batch is from
        optimizer = self.optimizers[(step - 1) % len(self.optimizers)]
        parents = plan.selector.select_at(state.pool, self.objective, state.rng, step)
        proposed: list[tuple[Trial, list[int]]] = []  # each new child, and its minibatch
        train_score = None
        for parent in parents:
            for _ in range(plan.proposals):
                indices = state.loader.next_indices()
                self.output.proposals.start(optimizer)
                scores, snapshot = self._propose(parent, indices, optimizer)
                parent.rollouts.append(aggregate_score_dicts(scores))
                batch_score = scalarize(parent.rollouts[-1], self.objective)
                train_score = batch_score if train_score is None else train_score
                key = snapshot_key(snapshot) if snapshot is not None else None
                child = None
                if (
                    key
                    and not state.pool.find(key)
                    and all(t.child.key != key for t, _ in proposed)
                ):
                    child = state.pool.new(snapshot, parent.id, step)
                    trial = Trial(child, parent, batch_score, math.nan, state.pool)
                    proposed.append((trial, indices))
                self.output.proposals.finish(step, parent, child, snapshot, optimizer)
        accepted = self._accepted(proposed)
        kept = plan.evaluation.evaluate(accepted, self.validation) if accepted else []
        current = plan.pool_policy.update(state.pool, kept, self.objective)
        state.pool.current = current.id
        apply_snapshot(self.agent, current.snapshot)
        state.step = step
        state.train_scores.append(train_score)
        return {"new_candidates": len(proposed), "accepted": len(kept), "epoch": epoch}

    def _propose(
        self, parent: Candidate, indices: list[int], optimizer: Any
    ) -> tuple[list[dict[str, float]], dict | None]:
        """Run the parent on a minibatch and ask the optimizer; the child snapshot or None."""
        apply_snapshot(self.agent, parent.snapshot)
        xs, infos = self.state.loader.batch(indices)
        kept = model_nodes(self.agent)
        start = canonical_model_names(kept)  # the prompt's names depend on the model only
        calls = [
            (standard_forward, (self.agent, x, self.guide, info, self.options["min_score"]))
            for x, info in zip(xs, infos, strict=True)
        ]
        results = run_calls(calls, None, self.options["num_threads"], False, "forward")
        self._count(len(calls))
        targets = [r[0] for r in results]
        if len(targets) == 1:
            target, feedback = targets[0], results[0][2]
        else:
            target, feedback = batchify(*targets), id_lines([r[2] for r in results])
        canonical_names([target], kept, start)
        optimizer.zero_feedback()
        optimizer.backward(target, feedback)
        extra = {"verbose": self.options["verbose"]} if self.options["verbose"] else {}
        update = optimizer.step(bypassing=True, **extra)
        snapshot, changed = dict(parent.snapshot), False
        for parameter, value in update.items():
            path = self.paths.get(id(parameter))
            if path is not None and parameter.trainable and value != snapshot.get(path):
                if self.output.directory and not self._storable(path, value):
                    continue
                snapshot[path] = copy.deepcopy(value)
                changed = True
        return [to_score_dict(r[1]) for r in results], snapshot if changed else None

    def _storable(self, path: str, value: Any) -> bool:
        """False (and a logged refusal) for a value the checkpoint could not hold: the value
        is dropped here, at update time, so the run and every resume of it go on."""
        problem = storage_problem(value)
        if problem is None:
            return True
        message = f"the value proposed for {path} was not applied: it holds {problem}"
        warn_user(message)
        self.output.event("refused", self.state.step + 1, message)
        return False

    def _accepted(self, proposed: list[tuple[Trial, list[int]]]) -> list[Candidate]:
        """The children the acceptance criterion lets through, scored on their minibatch
        first when the criterion or the evaluation policy wants it."""
        if proposed and self.plan.scores_children_on_minibatch:
            loader = self.state.loader
            jobs = [(trial.child.snapshot, *loader.batch(indices)) for trial, indices in proposed]
            means = self.scoring.mean_scores(self.guide, jobs, "Scoring new candidates")
            for (trial, _), scores in zip(proposed, means, strict=True):
                trial.child.rollouts.append(scores)
                trial.child_score = scalarize(scores, self.objective)
        return [trial.child for trial, _ in proposed if self.plan.acceptance.accept(trial)]

    def _validate_pending(self) -> None:
        """Evaluate the pool's candidates that have no validation scores (the first one, or
        a checkpoint's written before they were scored)."""
        pending = [c for c in self.state.pool.candidates if not c.validation]
        if pending:
            self.plan.evaluation.evaluate(pending, self.validation)
            self.committed = self.state.to_json()

    def _test(self) -> None:
        guide = self.options["test_guide"] or self.guide
        samples = self.options["num_test_samples"]
        inputs = [x for x in self.test_data["inputs"] for _ in range(samples)]
        infos = [i for i in self.test_data["infos"] for _ in range(samples)]
        jobs = [(self.state.current.snapshot, inputs, infos)]
        [scores] = self.scoring.mean_scores(guide, jobs, "Testing")
        self.state.test_scores.append([self.state.step, scalarize(scores, self.objective)])

    def _testing(self) -> bool:
        """Tests run every ``test_frequency`` steps, and only when there is a test set."""
        return bool(self.options["test_frequency"]) and self.test_data is not None

    def _after_step(self, counts: dict[str, int]) -> None:
        state, opts = self.state, self.options
        if self._testing() and state.step % abs(opts["test_frequency"]) == 0:
            self._test()
        record = self._record(counts)
        state.history.append(record)
        if state.step % max(1, opts["log_frequency"]) == 0:
            self.output.log.log_step(record)
        self.committed = state.to_json()
        every = opts["save_frequency"]  # 0 (or None): only when the run stops
        if every and state.step % every == 0:
            self.output.checkpoint(self.committed, self.agent, state.step)

    def _record(self, counts: dict[str, int]) -> dict[str, Any]:
        state, opts = self.state, self.options
        current = state.current
        tested_now = state.test_scores and state.test_scores[-1][0] == state.step
        return {
            "step": state.step,
            "total_steps": opts["num_steps"],
            "num_epochs": None if opts["num_steps"] is not None else opts["num_epochs"],
            "train_score": state.train_scores[-1] if state.train_scores else None,
            "validation_score": current.score(self.objective) if current.validation else None,
            "best_score": current.score(self.objective),
            "best_scores": current.score_dict(),
            "test_score": state.test_scores[-1][1] if tested_now else None,
            "candidate": current.id,
            "pool_size": len(state.pool.candidates),
            **counts,
            "parameters_hash": current.key,
            "parameters": encode_snapshot(current.snapshot),
            **state.usage.totals(),
            "evaluations": state.evaluations,
            "elapsed_s": round(state.elapsed(), 3),
        }

    def _finish(self, stopped: str) -> TrainResult:
        state = self.state
        best = state.current
        apply_snapshot(self.agent, best.snapshot)
        state.stopped = stopped
        self.output.checkpoint(state.to_json(), self.agent, state.step)
        self.output.event("stop", state.step, stopped, stopped=stopped)
        result = TrainResult(
            best_parameters=copy.deepcopy(best.snapshot),
            best_score=best.score(self.objective),
            best_scores=best.score_dict(),
            train_scores=list(state.train_scores),
            test_score=state.test_scores[-1][1] if state.test_scores else None,
            steps=state.step,
            stopped=stopped,
            run_dir=self.output.directory.path if self.output.directory else None,
            history=list(state.history),
            usage=state.usage.totals(),
            evaluations=state.evaluations,
        )
        self.output.event("summary", state.step, result.summary())
        self.output.close()
        return result
