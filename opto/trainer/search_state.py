"""Saving, loading and resuming a ``SearchTemplate`` algorithm, as JSON (Trace pickles it).

``save(path)`` writes ``<path>/algo.json``: the counters, the options of the last ``train``
call that JSON can hold, the agent's parameter values, each optimizer's state with its class
name, the data order of the samplers, and what the algorithm adds (a priority search's memory
of candidates).

``load(path)`` gives an algorithm in that state. The agent comes back when it is given to
``load`` or ``resume``; the optimizers are the ones given, or new ones of the saved classes
(looked up in ``opto.optimizers`` only, with default settings such as the default LLM) that get
the saved state. A guide, datasets and other options JSON cannot hold are given again to
``resume``. Nothing in the file is executed or unpickled.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import opto.optimizers as optimizers
from opto import trace
from opto.optimizers.optimizer import Optimizer
from opto.trainer.algorithms.base import check_optimizer_parameters
from opto.trainer.checkpoint import decode_snapshot, encode_snapshot
from opto.trainer.loggers import ConsoleLogger
from opto.trainer.snapshots import apply_snapshot, take_snapshot
from opto.utils.atomic import atomic_write_json

FORMAT = "opto.trainer.search/1"
STATE_FILE = "algo.json"


class ResumableSearch:
    """``save``, ``load`` and ``resume`` for ``SearchTemplate`` (which it is mixed into).

    Subclasses that learn more than the template keeps (a memory of candidates) add it with
    ``_search_state`` and take it back with ``_restore_search_state``.
    """

    def save(self, save_path: str | os.PathLike) -> Path:
        """Write the algorithm's state into the folder ``save_path`` (``algo.json``)."""
        options = {k: v for k, v in self._train_last_kwargs.items() if is_json(v)}
        document = {
            "format": FORMAT,
            "algorithm": type(self).__name__,
            "n_iters": self.n_iters,
            "n_epochs": self.n_epochs,
            "n_samples": self.n_samples,
            "optimizer_index": self._optimizer_index,
            "use_prev_batch": self.use_prev_batch,
            "score_range": [plain(v) for v in self._score_range],
            "train_options": options,
            "options_left_out": sorted(set(self._train_last_kwargs) - set(options)),
            "agent": encode_snapshot(take_snapshot(self.agent)),
            "optimizers": [optimizer_record(o) for o in self._optimizers],
            "loaders": self._loader_states(),
            "search": self._search_state(),
        }
        return atomic_write_json(Path(save_path) / STATE_FILE, document)

    @classmethod
    def load(
        cls,
        load_path: str | os.PathLike,
        agent: trace.Module | None = None,
        optimizer: Optimizer | list[Optimizer] | None = None,
        logger: Any = None,
    ) -> Any:
        """An algorithm in the state ``save`` wrote.

        Args:
            load_path: the folder ``save`` wrote.
            agent: the model to continue with (else give it to ``resume``).
            optimizer: the optimizer(s) of that model (default: new optimizers of the saved
                classes, with default settings, given the saved state).
            logger: where values are logged.
        """
        path = Path(load_path) / STATE_FILE
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"{path} is not a search algorithm state written by opto")
        if document["algorithm"] != cls.__name__:
            raise ValueError(f"{path} holds a {document['algorithm']}, not a {cls.__name__}")
        algorithm = cls.__new__(cls)
        algorithm._take_saved_counters(document, logger)  # noqa: SLF001 - this class's own
        if agent is not None:
            algorithm._attach_model(agent, optimizer)  # noqa: SLF001 - this class's own
        return algorithm

    def resume(
        self,
        *,
        model: trace.Module,
        train_dataset: dict,
        validate_dataset: dict | None = None,
        test_dataset: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        """Continue training ``model`` from this state, with the options of the last run.

        Args:
            model: the model to train (it takes the saved parameter values).
            train_dataset: the training data.
            validate_dataset: the validation data (None if the run validated on its training
                batches).
            test_dataset: the test data.
            **kwargs: options that replace the saved ones (``num_steps=...``, ``guide=...``);
                ``optimizer=`` gives the optimizer(s) for ``model``.
        """
        self._attach_model(model, kwargs.pop("optimizer", None))
        if self.use_prev_batch and validate_dataset is not None:
            raise ValueError(
                "the saved run validated on its training batches; resume it without "
                "validate_dataset"
            )
        options = {**self._train_last_kwargs, **kwargs}
        if "guide" not in options:
            raise TypeError("resume() needs guide=: a guide cannot be saved as JSON")
        options.update(
            train_dataset=train_dataset,
            validate_dataset=validate_dataset,
            test_dataset=test_dataset,
        )
        self._resume_requested = True  # algorithms keep what they learned (e.g. a memory)
        return self.train(**options)

    def _search_state(self) -> dict[str, Any]:
        """What ``save`` writes besides the template's own state (subclasses add theirs)."""
        return {}

    def _restore_search_state(self, state: dict[str, Any]) -> None:
        """Take back what ``_search_state`` returned (after the agent is attached)."""

    def _take_saved_counters(self, document: dict[str, Any], logger: Any) -> None:
        self.logger = logger if logger is not None else ConsoleLogger()
        self.num_threads = None
        self.agent = None
        self._optimizers = []
        self.n_iters = document["n_iters"]
        self.n_epochs = document["n_epochs"]
        self.n_samples = document["n_samples"]
        self._optimizer_index = document["optimizer_index"]
        self.use_prev_batch = document["use_prev_batch"]
        low, high = (restore(v) for v in document["score_range"])
        self._score_range = (low, high)
        self._train_last_kwargs = dict(document["train_options"])
        self.train_sampler = self.validate_sampler = None
        self._pending_state = document

    def _attach_model(self, model: trace.Module, optimizer: Any) -> None:
        """Make ``model`` the agent, with the saved values and optimizer state."""
        if not isinstance(model, trace.Module):
            raise TypeError(f"model must be an opto Module, got {type(model).__name__}")
        document = getattr(self, "_pending_state", None)
        if optimizer is not None:
            chosen = list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]
        elif document is not None:
            chosen = [new_optimizer(record, model) for record in document["optimizers"]]
        elif self.agent is model:
            chosen = self._optimizers
        else:
            raise TypeError("resume() with another model needs optimizer= for that model")
        for item in chosen:
            check_optimizer_parameters(item, model)
        if document is not None:
            apply_snapshot(model, decode_snapshot(document["agent"]))
        elif self.agent is not model:
            apply_snapshot(model, take_snapshot(self.agent))
        self.agent = model
        self._optimizers = chosen
        if document is not None:
            self._pending_loader_states = document["loaders"]
            self._restore_search_state(document["search"])
            self._pending_state = None

    def _loader_states(self) -> dict[str, Any]:
        states: dict[str, Any] = {"train": None, "validate": None}
        if self.train_sampler is not None:
            states["train"] = self.train_sampler.loader.state_dict()
        if self.validate_sampler is not None and self.validate_sampler is not self.train_sampler:
            states["validate"] = self.validate_sampler.loader.state_dict()
        return states


def optimizer_record(optimizer: Optimizer) -> dict[str, Any]:
    """An optimizer's class name and state, as JSON data."""
    return {"class": type(optimizer).__name__, "state": optimizer.state_dict()}


def new_optimizer(record: dict[str, Any], model: trace.Module) -> Optimizer:
    """A new optimizer of ``model``'s parameters, of the class ``record`` names (looked up in
    ``opto.optimizers`` only, never imported from a name in a file) with its saved state."""
    cls = getattr(optimizers, str(record.get("class")), None)
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        raise ValueError(
            f"the saved optimizer class {record.get('class')!r} is not in opto.optimizers; "
            "pass optimizer= to load() or resume()"
        )
    optimizer = cls(model.parameters())
    optimizer.load_state_dict(record.get("state") or {})
    return optimizer


def is_json(value: Any) -> bool:
    """Whether JSON can hold ``value`` exactly as it is (no NaN or infinities)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def plain(value: Any) -> Any:
    """``value`` as JSON can hold it: infinite floats as text; None for what it cannot hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"dict": {k: plain(v) for k, v in value.items()}}
        return None
    return value if is_json(value) else None


def restore(value: Any) -> Any:
    """The inverse of ``plain``: ``value`` as read from JSON, with the floats and dicts
    ``plain`` wrapped unwrapped again."""
    if isinstance(value, dict) and set(value) == {"float"}:
        if value["float"] in ("inf", "-inf", "nan"):
            return float(value["float"])
        return None
    if isinstance(value, dict) and set(value) == {"dict"} and isinstance(value["dict"], dict):
        return {k: restore(v) for k, v in value["dict"].items()}
    return value
