"""Saving and loading a ``SearchTemplate`` algorithm as JSON (Trace pickles it; opto does not).

``save(path)`` writes ``<path>/algo.json``: the counters, the options of the last ``train``
call that JSON can hold, the agent's parameter values, the state of each optimizer with its
class name, the data order of the samplers, and what the algorithm adds (a priority search's
memory of candidates: their values, scores and feedback, and their own optimizers' state).

``load(path)`` gives an algorithm in that state. The agent comes back when it is given to
``load`` or ``resume``; optimizers are the ones given, or new ones of the saved classes (looked
up in ``opto.optimizers`` only, with default settings such as the default LLM) that get the
saved state. A guide, datasets and other options JSON cannot hold are given again to
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


def write_state(algorithm: Any, save_path: str | os.PathLike) -> Path:
    """Write the algorithm's state to ``<save_path>/algo.json`` (atomically)."""
    options, left_out = {}, []
    for name, value in algorithm._train_last_kwargs.items():
        if is_json(value):
            options[name] = value
        else:
            left_out.append(name)
    document = {
        "format": FORMAT,
        "algorithm": type(algorithm).__name__,
        "n_iters": algorithm.n_iters,
        "n_epochs": algorithm.n_epochs,
        "n_samples": algorithm.n_samples,
        "optimizer_index": algorithm._optimizer_index,
        "use_prev_batch": algorithm.use_prev_batch,
        "score_range": [plain(v) for v in algorithm._score_range],
        "train_options": options,
        "options_left_out": left_out,
        "agent": encode_snapshot(take_snapshot(algorithm.agent)),
        "optimizers": [optimizer_record(o) for o in algorithm._optimizers],
        "loaders": loader_states(algorithm),
        "search": algorithm._search_state(),
    }
    return atomic_write_json(Path(save_path) / STATE_FILE, document)


def read_state(
    cls: type, load_path: str | os.PathLike, agent: Any, optimizer: Any, logger: Any
) -> Any:
    """An instance of ``cls`` in the state of ``<load_path>/algo.json``."""
    path = Path(load_path) / STATE_FILE
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a search algorithm state written by opto")
    if document["algorithm"] != cls.__name__:
        raise ValueError(f"{path} holds the state of {document['algorithm']}, not {cls.__name__}")
    algorithm = cls.__new__(cls)
    algorithm.logger = logger if logger is not None else ConsoleLogger()
    algorithm.num_threads = None
    algorithm.agent = None
    algorithm.n_iters = document["n_iters"]
    algorithm.n_epochs = document["n_epochs"]
    algorithm.n_samples = document["n_samples"]
    algorithm._optimizer_index = document["optimizer_index"]
    algorithm.use_prev_batch = document["use_prev_batch"]
    low, high = (restore(v) for v in document["score_range"])
    algorithm._score_range = (low, high)
    algorithm._train_last_kwargs = dict(document["train_options"])
    algorithm.train_sampler = algorithm.validate_sampler = None
    algorithm._pending_state = document
    if agent is not None:
        attach_model(algorithm, agent, optimizer)
    return algorithm


def attach_model(algorithm: Any, model: Any, optimizer: Any) -> None:
    """Make ``model`` the algorithm's agent, with the saved values and optimizer state."""
    if not isinstance(model, trace.Module):
        raise TypeError(f"model must be an opto Module, got {type(model).__name__}")
    document = getattr(algorithm, "_pending_state", None)
    if optimizer is not None:
        optimizers = list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]
    elif document is not None:
        optimizers = [new_optimizer(r, model) for r in document["optimizers"]]
    else:
        optimizers = algorithm._optimizers
    for item in optimizers:
        check_optimizer_parameters(item, model)
    if document is not None:
        apply_snapshot(model, decode_snapshot(document["agent"]))
    elif algorithm.agent is not None and algorithm.agent is not model:
        apply_snapshot(model, take_snapshot(algorithm.agent))
    algorithm.agent = model
    algorithm._optimizers = optimizers
    if document is not None:
        algorithm._pending_loader_states = document["loaders"]
        algorithm._restore_search_state(document["search"])
        algorithm._pending_state = None


def optimizer_record(optimizer: Any) -> dict[str, Any]:
    return {"class": type(optimizer).__name__, "state": optimizer.state_dict()}


def new_optimizer(record: dict[str, Any], model: Any) -> Any:
    """A new optimizer of the recorded class (from ``opto.optimizers`` only) with its state."""
    cls = getattr(optimizers, str(record.get("class")), None)
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        raise ValueError(
            f"the saved optimizer class {record.get('class')!r} is not in opto.optimizers; "
            "pass optimizer= to load() or resume()"
        )
    optimizer = cls(model.parameters())
    optimizer.load_state_dict(record.get("state") or {})
    return optimizer


def loader_states(algorithm: Any) -> dict[str, Any]:
    states: dict[str, Any] = {"train": None, "validate": None}
    if algorithm.train_sampler is not None:
        states["train"] = algorithm.train_sampler.loader.state_dict()
    separate = algorithm.validate_sampler is not algorithm.train_sampler
    if algorithm.validate_sampler is not None and separate:
        states["validate"] = algorithm.validate_sampler.loader.state_dict()
    return states


def is_json(value: Any) -> bool:
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
    """The inverse of ``plain``."""
    if (
        isinstance(value, dict)
        and set(value) == {"float"}
        and value["float"] in ("inf", "-inf", "nan")
    ):
        return float(value["float"])
    if isinstance(value, dict) and set(value) == {"dict"} and isinstance(value["dict"], dict):
        return {k: restore(v) for k, v in value["dict"].items()}
    return value
