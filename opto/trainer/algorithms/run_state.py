"""``RunState``: everything a run of the search loop has done and needs to go on, in one object.

The loop (``opto.trainer.algorithms.loop``) keeps no progress of its own: the step count, the
data order, the random generator of its choices, the pool of candidates (and which one is
current, i.e. the best), the optimizers' memory, the scores so far, the usage and time spent,
and why the run stopped are all here. ``to_json`` gives the checkpoint document (the
``opto.trainer.checkpoint/1`` format, plain JSON, nothing pickled); ``from_json`` checks a
document field by field (``opto.trainer.checkpoint_schema``) and against the model, the
optimizers and the data of the run that wants to continue it, and refuses anything else with a
``CheckpointError``; ``restore`` puts a state back to an earlier document of the same run (the
loop does that when a budget runs out mid-step).

The data order lives in the run's ``DataLoader`` and the optimizer memory in the optimizers: the
state holds those objects and reads and writes their state, so nothing is copied back and forth
during a step. Usage and time are not rolled back by ``restore``: they were spent.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from opto.trainer.algorithms.candidates import Candidate, Pool
from opto.trainer.checkpoint import CHECKPOINT_FORMAT, UsageMeter, decode_snapshot
from opto.trainer.checkpoint_schema import CheckpointError, check_checkpoint, check_snapshot_fits
from opto.trainer.loader import DataLoader

LOAD_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError)
"""What loading a checked document can still raise when it is damaged in a way the schema
does not describe (an optimizer's own state, for example): a ``CheckpointError`` then."""


@dataclass(eq=False)
class RunState:
    """The state of one run (see the module docstring).

    Args:
        algorithm: the name of the algorithm (a checkpoint continues only the same one).
        loader: the training data loader; its order, position, epoch and RNG are the run's.
        optimizers: the run's optimizers; their state (memory) is the run's.
        rng: the generator of the search's random choices.
        pool: the candidates kept, and the current one.
        fingerprints: hashes of the train, validate and test data.
        usage: the calls, tokens and cost of the run (earlier sessions included).
        step: steps completed.
        train_scores: the score of the minibatch each step started from.
        test_scores: ``[step, score]`` of each test.
        elapsed_before: seconds spent by earlier sessions.
        evaluations: examples scored (guide calls), earlier sessions included; like usage,
            never rolled back by ``restore``.
        stopped: why the run stopped (``"completed"``, ``"budget"``, or a stop condition's
            reason); None while it runs.
        history: the record of each step of this session (not saved: ``run.jsonl`` has all).
        session_start: the monotonic clock when this session began (for ``elapsed``).
    """

    algorithm: str
    loader: DataLoader
    optimizers: list[Any]
    rng: random.Random
    pool: Pool
    fingerprints: dict[str, str | None]
    usage: UsageMeter = field(default_factory=UsageMeter)
    step: int = 0
    train_scores: list[float | None] = field(default_factory=list)
    test_scores: list[list] = field(default_factory=list)
    elapsed_before: float = 0.0
    evaluations: int = 0
    stopped: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    session_start: float = field(default_factory=time.monotonic)

    @classmethod
    def start(
        cls,
        algorithm: str,
        loader: DataLoader,
        optimizers: list[Any],
        snapshot: dict[str, Any],
        seed: int,
        fingerprints: dict[str, str | None],
    ) -> RunState:
        """The state of a new run: one candidate (``snapshot``, the model's values), current.

        Args:
            algorithm, loader, optimizers, fingerprints: as for ``RunState``.
            snapshot: the model's parameter values at the start.
            seed: the run's seed (the search's generator is seeded with ``seed + 1``; the
                loader has its own, seeded with ``seed``).
        """
        pool = Pool()
        first = pool.new(snapshot, None, 0)
        pool.add(first)
        pool.current = first.id
        return cls(algorithm, loader, list(optimizers), random.Random(seed + 1), pool, fingerprints)

    @property
    def epoch(self) -> int:
        """Completed passes over the training data."""
        return self.loader.n_epochs

    @property
    def current(self) -> Candidate:
        """The current candidate: the best so far, or the newest for plain minibatch training."""
        return self.pool.get(self.pool.current)

    def elapsed(self) -> float:
        """Seconds the run has taken, earlier sessions included."""
        return self.elapsed_before + time.monotonic() - self.session_start

    def to_json(self) -> dict[str, Any]:
        """The checkpoint document: a JSON-ready deep copy of everything that is saved."""
        version, internal, gauss = self.rng.getstate()
        document = {
            "format": CHECKPOINT_FORMAT,
            "algorithm": self.algorithm,
            "step": self.step,
            "loader": self.loader.state_dict(),
            "rng": [version, list(internal), gauss],
            "pool": self.pool.to_json(),
            "optimizers": [optimizer.state_dict() for optimizer in self.optimizers],
            "train_scores": self.train_scores,
            "test_scores": self.test_scores,
            "usage": self.usage.totals(),
            "elapsed_s": self.elapsed(),
            "evaluations": self.evaluations,
            "fingerprints": self.fingerprints,
            "stopped": self.stopped,
        }
        return json.loads(json.dumps(document))

    def restore(self, document: dict[str, Any]) -> None:
        """Go back to ``document`` (written by ``to_json`` for this run): everything saved
        except usage, time and evaluations, which were spent."""
        self.step = document["step"]
        self.loader.load_state_dict(document["loader"])
        version, internal, gauss = document["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.pool = Pool.from_json(document["pool"])
        for optimizer, saved in zip(self.optimizers, document["optimizers"], strict=True):
            optimizer.load_state_dict(saved)
        self.train_scores = list(document["train_scores"])
        self.test_scores = [list(entry) for entry in document["test_scores"]]
        self.stopped = document["stopped"]

    @classmethod
    def from_json(
        cls,
        document: Any,
        *,
        algorithm: str,
        loader: DataLoader,
        optimizers: list[Any],
        fingerprints: dict[str, str | None],
        model_values: dict[str, Any],
        source: str = "the checkpoint",
    ) -> RunState:
        """The state ``document`` holds, for a run that continues it; ``CheckpointError`` if
        the document is damaged or belongs to another run.

        Args:
            document: the parsed checkpoint (untrusted).
            algorithm, loader, optimizers, fingerprints: those of the run that continues (the
                loader and optimizers get the saved state).
            model_values: the model's current values (``take_snapshot``): every saved
                candidate must fit them (same parameters, same types).
            source: what the document is, for messages (the file's path).
        """
        if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(
                f"{source} is not an opto trainer checkpoint ({CHECKPOINT_FORMAT})"
            )
        checked = check_checkpoint(document, source)
        for candidate in checked["pool"]["candidates"]:
            problem = check_snapshot_fits(
                decode_snapshot(candidate["snapshot"]), model_values, f"candidate {candidate['id']}"
            )
            if problem:
                raise CheckpointError(f"the checkpoint does not fit this model: {problem}")
        if checked["algorithm"] != algorithm:
            raise CheckpointError(
                f"the checkpoint was written by {checked['algorithm']}, not {algorithm}"
            )
        if len(checked["optimizers"]) != len(optimizers):
            raise CheckpointError(
                f"the checkpoint has the state of {len(checked['optimizers'])} optimizer(s), "
                f"this run has {len(optimizers)}"
            )
        if checked["fingerprints"]["train"] != fingerprints["train"]:
            raise CheckpointError("the training data differs from the data of the checkpointed run")
        state = cls(
            algorithm,
            loader,
            list(optimizers),
            random.Random(),
            Pool(),
            fingerprints,
            usage=UsageMeter(checked["usage"]),
            elapsed_before=checked["elapsed_s"],
            evaluations=checked.get("evaluations", 0),
        )
        try:
            state.restore(checked)
        except CheckpointError:
            raise
        except LOAD_ERRORS as error:
            raise CheckpointError(
                f"the checkpoint is damaged: {type(error).__name__}: {error}"
            ) from error
        return state
