"""The one training loop. Every algorithm is this loop with other ``Strategies``.

A step: pick parents (selector); for each, draw a minibatch, run the model on it (threads),
batch the outputs and feedback into one node and one text, and let the optimizer propose new
values (without applying them) -> a child snapshot; optionally score children on their
minibatch (gate, UCB statistics) and on the validation set; update the pool; put the best (or
newest) candidate's values into the model. Then log, and every ``save_frequency`` steps write
a checkpoint. A budget error stops the run cleanly at the last completed step.
"""

from __future__ import annotations

import copy
import json
import random
import time
from typing import Any

from opto.llm.errors import BudgetError
from opto.trainer.algorithms.base import Trainer, TrainResult, as_optimizer_list
from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.algorithms.options import options_to_save, resolve_options
from opto.trainer.algorithms.strategies import BestCandidates, Strategies
from opto.trainer.checkpoint import (
    CheckpointError,
    RunDirectory,
    UsageMeter,
    decode_snapshot,
    encode_snapshot,
    fingerprint,
    run_budget,
    run_cache,
)
from opto.trainer.checkpoint_schema import check_snapshot_fits
from opto.trainer.evaluators import RemotePayload, run_calls, score_jobs, standard_forward
from opto.trainer.loader import DataLoader, check_dataset
from opto.trainer.loggers import CompositeLogger, JSONLinesLogger
from opto.trainer.naming import canonical_model_names, canonical_names, model_nodes
from opto.trainer.objectives import aggregate_score_dicts, scalarize, to_score_dict
from opto.trainer.run_record import ProposalLog, describe_components
from opto.trainer.snapshots import apply_snapshot, paths_by_parameter, snapshot_key, take_snapshot
from opto.trainer.utils import batchify, id_lines
from opto.utils.json_values import storage_problem
from opto.utils.user_warnings import warn_user


class SearchLoop(Trainer):
    """``SearchLoop(agent, optimizer, strategies=...)``; presets subclass it with defaults."""

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

    def strategies(self, options: dict[str, Any]) -> Strategies:
        """The strategies for these options (presets override this)."""
        return self._strategies or Strategies(BestCandidates(1))

    # -- the run ---------------------------------------------------------------------------

    def train(self, guide: Any, train_dataset: dict, **options: Any) -> TrainResult:
        self.options = opts = resolve_options(self, options)
        self.guide = guide
        self.objective = opts["objective_config"]
        self.plan = self.strategies(opts)
        self.train_data = check_dataset(train_dataset, "train_dataset")
        self.validate_data = check_dataset(
            opts["validate_dataset"] or train_dataset, "validate_dataset"
        )
        self.test_data = (
            check_dataset(opts["test_dataset"], "test_dataset") if opts["test_dataset"] else None
        )
        self.loader = DataLoader(self.train_data, batch_size=opts["batch_size"], seed=opts["seed"])
        self.rng = random.Random(opts["seed"] + 1)
        self.paths = paths_by_parameter(self.agent)
        self._payloads: dict[int, RemotePayload] = {}
        self.run_dir = RunDirectory(opts["run_dir"]) if opts["run_dir"] else None
        loggers = [self.logger]
        self._jsonl = JSONLinesLogger(self.run_dir.log_path) if self.run_dir else None
        self.log = CompositeLogger(*loggers, self._jsonl)
        self.proposals = ProposalLog(self.run_dir.proposals_path if self.run_dir else None)
        if self.run_dir:
            self.run_dir.remove_leftovers()
        resuming = bool(self.run_dir and self.run_dir.has_checkpoint())
        if resuming and not opts["resume"]:
            raise CheckpointError(
                f"{self.run_dir.path} already holds a run; pass resume=True (or call "
                "opto.trainer.resume) to continue it, or choose another run_dir"
            )
        state = self.run_dir.read_checkpoint() if resuming else None
        self.meter = UsageMeter(state["usage"] if state else None)
        cache_dir = self.run_dir.cache_dir if self.run_dir else None
        stopped = "completed"
        with (
            run_cache(cache_dir),
            self.meter.counting(),
            run_budget(opts["max_cost"], opts["max_calls"], self.meter.totals()),
        ):
            self._started = time.monotonic()
            if state:
                self._resume_from(state)
                self.log.log_event("resume", {"step": self.step, "message": f"at step {self.step}"})
            else:
                self._fresh_start()
            try:
                self._validate_pending()
                if self.step == 0 and self._testing() and opts["test_frequency"] > 0:
                    self._test()  # a negative test_frequency skips this first test
                while not self._done():
                    self._step()
                    self._after_step()
                tested_now = bool(self.test_scores) and self.test_scores[-1][0] == self.step
                if self.test_data is not None and not tested_now:
                    self._test()  # the final test, unless this step was just tested
            except BudgetError as error:
                stopped = "budget"
                self._load_state(self._committed)
                self.log.log_event("stop", {"step": self.step, "message": f"budget: {error}"})
        return self._finish(stopped)

    def _fresh_start(self) -> None:
        self.step, self.train_scores, self.test_scores, self.history = 0, [], [], []
        self._elapsed_before = 0.0
        self.pool = Pool()
        first = self.pool.new(take_snapshot(self.agent), None, 0)
        self.pool.add(first)
        self.pool.current = first.id
        if self.run_dir:
            self.run_dir.write_config(
                {
                    "algorithm": type(self).__name__,
                    "options": options_to_save(self.options),
                    "components": describe_components(self),
                    "fingerprints": self._fingerprints(),
                }
            )
            self.run_dir.write_datasets(
                {
                    "train": self.train_data,
                    "validate": self.options["validate_dataset"],
                    "test": self.options["test_dataset"],
                }
            )
        self._committed = self.state_dict()
        self.log.log_event("start", {"step": 0, "message": f"{type(self).__name__}"})

    def _done(self) -> bool:
        if self.options["num_steps"] is not None:
            return self.step >= self.options["num_steps"]
        return self.loader.n_epochs >= self.options["num_epochs"]

    def _step(self) -> None:
        step = self.step + 1
        epoch = self.loader.n_epochs + 1  # the epoch (from 1) this step's first batch is from
        optimizer = self.optimizers[(step - 1) % len(self.optimizers)]
        parents = self.plan.selector.select(self.pool, self.objective, self.rng)
        proposed: list[tuple[Candidate, float, list[int]]] = []
        train_score = None
        for parent in parents:
            for _ in range(self.plan.proposals):
                indices = self.loader.next_indices()
                self.proposals.start(optimizer)
                scores, snapshot = self._propose(parent, indices, optimizer)
                parent.rollouts.append(aggregate_score_dicts(scores))
                batch_score = scalarize(parent.rollouts[-1], self.objective)
                train_score = batch_score if train_score is None else train_score
                key = snapshot_key(snapshot) if snapshot is not None else None
                child = None
                if key and not self.pool.find(key) and all(c.key != key for c, _, _ in proposed):
                    child = self.pool.new(snapshot, parent.id, step)
                    proposed.append((child, batch_score, indices))
                self.proposals.finish(step, parent, child, snapshot, optimizer)
        kept = self._gate(proposed)
        if self.plan.validate and kept:
            self._validate(kept)
        for child in kept:
            self.pool.add(child)
        if self.plan.keep == "latest":
            current = kept[-1] if kept else self.pool.get(self.pool.current)
            self.pool.candidates = [current]
        else:
            self.pool.keep_best(self.plan.pool_size, self.objective)
            current = self.pool.ranked(self.objective)[0]
        self.pool.current = current.id
        apply_snapshot(self.agent, current.snapshot)
        self.step = step
        self.train_scores.append(train_score)
        self._last = {"new_candidates": len(proposed), "accepted": len(kept), "epoch": epoch}

    def _propose(
        self, parent: Candidate, indices: list[int], optimizer: Any
    ) -> tuple[list[dict[str, float]], dict | None]:
        """Run the parent on a minibatch and ask the optimizer; the child snapshot or None."""
        apply_snapshot(self.agent, parent.snapshot)
        xs, infos = self.loader.batch(indices)
        kept = model_nodes(self.agent)
        start = canonical_model_names(kept)  # the prompt's names depend on the model only
        calls = [
            (standard_forward, (self.agent, x, self.guide, info, self.options["min_score"]))
            for x, info in zip(xs, infos, strict=True)
        ]
        results = run_calls(calls, None, self.options["num_threads"], False, "forward")
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
                if self.run_dir and not self._storable(path, value):
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
        self.log.log_event("refused", {"step": self.step + 1, "message": message})
        return False

    def _gate(self, proposed: list[tuple[Candidate, float, list[int]]]) -> list[Candidate]:
        """Score children on their minibatch if asked, and keep those that pass the gate."""
        if not proposed or (self.plan.gate is None and not self.plan.rollout_children):
            return [child for child, _, _ in proposed]
        jobs = [(c.snapshot, *self.loader.batch(indices)) for c, _, indices in proposed]
        results = self._score(self.guide, jobs, "Scoring new candidates")
        kept = []
        for (child, parent_score, _), rows in zip(proposed, results, strict=True):
            child.rollouts.append(aggregate_score_dicts(to_score_dict(r.score) for r in rows))
            gain = scalarize(child.rollouts[-1], self.objective) - parent_score
            if self.plan.gate is None or gain >= self.plan.gate:
                kept.append(child)
        return kept

    def _validate(self, candidates: list[Candidate]) -> None:
        data = self.validate_data
        guide = self.options["validate_guide"] or self.guide
        jobs = [(c.snapshot, data["inputs"], data["infos"]) for c in candidates]
        for candidate, rows in zip(candidates, self._score(guide, jobs, "Validating"), strict=True):
            candidate.validation = {i: to_score_dict(r.score) for i, r in enumerate(rows)}

    def _validate_pending(self) -> None:
        if self.plan.validate:
            pending = [c for c in self.pool.candidates if not c.validation]
            if pending:
                self._validate(pending)
                self._committed = self.state_dict()

    def _score(self, guide: Any, jobs: list, description: str) -> list:
        executor = self.options["executor"]
        payload = None
        if executor is not None and id(guide) not in self._payloads:
            self._payloads[id(guide)] = RemotePayload(self.agent, guide)
        if executor is not None:
            payload = self._payloads[id(guide)]
        return score_jobs(
            self.agent,
            guide,
            jobs,
            mode="feedback",
            min_score=self.options["min_score"],
            num_threads=self.options["num_threads"],
            executor=executor,
            progress=self.options["progress"],
            description=description,
            payload=payload,
        )

    def _test(self) -> None:
        guide = self.options["test_guide"] or self.guide
        samples = self.options["num_test_samples"]
        inputs = [x for x in self.test_data["inputs"] for _ in range(samples)]
        infos = [i for i in self.test_data["infos"] for _ in range(samples)]
        current = self.pool.get(self.pool.current)
        rows = self._score(guide, [(current.snapshot, inputs, infos)], "Testing")[0]
        score = scalarize(
            aggregate_score_dicts(to_score_dict(r.score) for r in rows), self.objective
        )
        self.test_scores.append([self.step, score])

    def _testing(self) -> bool:
        """Tests run every ``test_frequency`` steps, and only when there is a test set."""
        return bool(self.options["test_frequency"]) and self.test_data is not None

    def _after_step(self) -> None:
        opts = self.options
        if self._testing() and self.step % abs(opts["test_frequency"]) == 0:
            self._test()
        record = self._record()
        self.history.append(record)
        if self.step % max(1, opts["log_frequency"]) == 0:
            self.log.log_step(record)
        self._committed = self.state_dict()
        if self.run_dir and self.step % opts["save_frequency"] == 0:
            self._checkpoint()

    def _checkpoint(self, state: dict | None = None) -> None:
        self.run_dir.write_checkpoint(state or self._committed)
        self.run_dir.write_model(self.agent)
        if self._jsonl is not None:
            self._jsonl.log_event("checkpoint", {"step": self.step})

    def _record(self) -> dict[str, Any]:
        current = self.pool.get(self.pool.current)
        usage = self.meter.totals()
        validation = current.score(self.objective) if current.validation else None
        return {
            "step": self.step,
            "total_steps": self.options["num_steps"],
            "num_epochs": None
            if self.options["num_steps"] is not None
            else self.options["num_epochs"],
            "train_score": self.train_scores[-1] if self.train_scores else None,
            "validation_score": validation,
            "best_score": current.score(self.objective),
            "best_scores": current.score_dict(),
            "test_score": self.test_scores[-1][1]
            if self.test_scores and self.test_scores[-1][0] == self.step
            else None,
            "candidate": current.id,
            "pool_size": len(self.pool.candidates),
            **getattr(self, "_last", {}),
            "parameters_hash": current.key,
            "parameters": encode_snapshot(current.snapshot),
            **usage,
            "elapsed_s": round(self._elapsed(), 3),
        }

    def _elapsed(self) -> float:
        return self._elapsed_before + time.monotonic() - self._started

    def _fingerprints(self) -> dict[str, str | None]:
        return {
            "train": fingerprint(self.train_data),
            "validate": fingerprint(self.validate_data),
            "test": fingerprint(self.test_data),
        }

    def _finish(self, stopped: str) -> TrainResult:
        best = self.pool.get(self.pool.current)
        apply_snapshot(self.agent, best.snapshot)
        if self.run_dir:
            state = self.state_dict()
            state["stopped"] = stopped
            self._checkpoint(state)
        self.log.log_event("stop", {"step": self.step, "message": stopped, "stopped": stopped})
        result = TrainResult(
            best_parameters=copy.deepcopy(best.snapshot),
            best_score=best.score(self.objective),
            best_scores=best.score_dict(),
            train_scores=list(self.train_scores),
            test_score=self.test_scores[-1][1] if self.test_scores else None,
            steps=self.step,
            stopped=stopped,
            run_dir=self.run_dir.path if self.run_dir else None,
            history=list(self.history),
            usage=self.meter.totals(),
        )
        self.log.log_event("summary", {"step": self.step, "message": result.summary()})
        self.log.close()
        self.proposals.close()
        return result

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the run exactly (a JSON-ready deep copy)."""
        version, internal, gauss = self.rng.getstate()
        state = {
            "algorithm": type(self).__name__,
            "step": self.step,
            "loader": self.loader.state_dict(),
            "rng": [version, list(internal), gauss],
            "pool": self.pool.to_json(),
            "optimizers": [o.state_dict() for o in self.optimizers],
            "train_scores": self.train_scores,
            "test_scores": self.test_scores,
            "usage": self.meter.totals(),
            "elapsed_s": self._elapsed(),
            "fingerprints": self._fingerprints(),
            "stopped": None,
        }
        return json.loads(json.dumps(state))

    def _resume_from(self, state: dict[str, Any]) -> None:
        """Load a checkpoint read from disk: its snapshots must fit the model, and whatever
        else is wrong with it is a ``CheckpointError``, before the run goes on."""
        current = take_snapshot(self.agent)
        for candidate in state["pool"]["candidates"]:
            problem = check_snapshot_fits(
                decode_snapshot(candidate["snapshot"]), current, f"candidate {candidate['id']}"
            )
            if problem:
                raise CheckpointError(f"the checkpoint does not fit this model: {problem}")
        try:
            self._load_state(state)
        except CheckpointError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:
            raise CheckpointError(
                f"the checkpoint is damaged: {type(error).__name__}: {error}"
            ) from error

    def _load_state(self, state: dict[str, Any]) -> None:
        if state["algorithm"] != type(self).__name__:
            raise CheckpointError(
                f"the checkpoint was written by {state['algorithm']}, not {type(self).__name__}"
            )
        if len(state["optimizers"]) != len(self.optimizers):
            raise CheckpointError(
                f"the checkpoint has the state of {len(state['optimizers'])} optimizer(s), "
                f"this run has {len(self.optimizers)}"
            )
        if state["fingerprints"]["train"] != fingerprint(self.train_data):
            raise CheckpointError("the training data differs from the data of the checkpointed run")
        self.step = state["step"]
        self.loader.load_state_dict(state["loader"])
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.pool = Pool.from_json(state["pool"])
        for optimizer, saved in zip(self.optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(saved)
        self.train_scores = list(state["train_scores"])
        self.test_scores = list(state["test_scores"])
        self.history = getattr(self, "history", [])
        self._elapsed_before = state["elapsed_s"]
        self._started = time.monotonic()
        apply_snapshot(self.agent, self.pool.get(self.pool.current).snapshot)
        self._committed = json.loads(json.dumps(state))
