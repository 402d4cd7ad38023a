"""The run directory: checkpoints, the run's configuration, its log and its LLM cache.

    run_dir/
      config.json       algorithm and options the run was started with
      datasets.json     the datasets, when JSON can hold them (so resume needs only the model)
      checkpoint.json   the last checkpoint, replaced atomically (a kill leaves old or new)
      run.jsonl         one record per step and event
      proposals.jsonl   each optimizer step: prompt, reply, what was applied, values, graph
      llm-cache/        every LLM reply of the run, so re-running a step after a kill is free
      best_model.json   the best parameters so far (Module.save format)

A checkpoint is plain JSON: parameters and search state as snapshots, data order and RNG
states, optimizer state, usage so far. Nothing is pickled. What is read back is checked
(:mod:`opto.trainer.checkpoint_schema`): a damaged file is a :class:`CheckpointError`, and
temporaries a kill left behind are removed when the folder is opened again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opto.llm.budget import budget
from opto.llm.cache import cache_scope
from opto.llm.usage import UsageLedger, usage_scope
from opto.trace.modules import encode_parameter
from opto.trainer.checkpoint_schema import CheckpointError, DocumentPath, need_dict, need_str
from opto.utils.atomic import atomic_write_text, remove_leftovers
from opto.utils.json_values import decode_value

CHECKPOINT_FORMAT = "opto.trainer.checkpoint/1"


def encode_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    """JSON form of a snapshot (tuples are marked); a value JSON cannot hold is an error."""
    return {path: encode_parameter(value, path) for path, value in snapshot.items()}


def decode_snapshot(data: dict[str, Any]) -> dict[str, Any]:
    """The snapshot ``encode_snapshot`` wrote (``DamagedValue`` for data it cannot have)."""
    return {path: decode_value(value) for path, value in data.items()}


def fingerprint(dataset: dict | None) -> str | None:
    """A hash of a dataset's inputs and infos (``repr`` for what JSON cannot hold)."""
    if dataset is None:
        return None
    text = json.dumps([dataset["inputs"], dataset["infos"]], default=repr, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class RunDirectory:
    """Paths and atomic reads/writes of one training run's folder, ``path``.

    Nothing is created until something is written; every write goes to a temporary file and
    is renamed into place, so a run killed at any moment leaves the previous version whole.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.checkpoint_path = self.path / "checkpoint.json"
        self.config_path = self.path / "config.json"
        self.datasets_path = self.path / "datasets.json"
        self.log_path = self.path / "run.jsonl"
        self.proposals_path = self.path / "proposals.jsonl"
        self.cache_dir = self.path / "llm-cache"
        self.model_path = self.path / "best_model.json"

    def has_checkpoint(self) -> bool:
        """Whether an earlier session left a checkpoint to continue from."""
        return self.checkpoint_path.exists()

    def remove_leftovers(self) -> list[Path]:
        """Delete temporaries of atomic writes a kill left behind (call when opening a run)."""
        written = (self.checkpoint_path, self.config_path, self.datasets_path, self.model_path)
        return [leftover for path in written for leftover in remove_leftovers(path)]

    def write_checkpoint(self, document: dict[str, Any]) -> Path:
        """Replace the checkpoint with ``document`` (``RunState.to_json()``), atomically."""
        return atomic_write_text(self.checkpoint_path, json.dumps(document, indent=1) + "\n")

    def read_checkpoint(self) -> Any:
        """The checkpoint as parsed JSON, refusing what is not JSON or holds NaN or infinities
        (``CheckpointError``). Untrusted still: ``RunState.from_json`` checks the rest."""
        return self._read(self.checkpoint_path, "checkpoint", finite=True)

    def write_config(self, config: dict[str, Any]) -> Path:
        """Write ``config.json``: ``config`` holds the algorithm's name, its options and a
        description of the components (values JSON cannot hold are written as their repr)."""
        return atomic_write_text(
            self.config_path, json.dumps(config, indent=1, default=repr) + "\n"
        )

    def read_config(self) -> dict[str, Any]:
        """The configuration the run started with (algorithm name and options)."""
        config = self._read(self.config_path, "run configuration")
        where = DocumentPath(str(self.config_path))
        need_dict(config, where, ("algorithm", "options"))
        need_str(config["algorithm"], where / "algorithm")
        options = need_dict(config["options"], where / "options")
        if not all(isinstance(key, str) and key.isidentifier() for key in options):
            raise (where / "options").fail("has a key that is not an option name")
        return config

    def write_datasets(self, datasets: dict[str, dict | None]) -> bool:
        """Store the datasets if JSON can hold them exactly; False (and no file) otherwise."""
        try:
            text = json.dumps(datasets, allow_nan=False)
        except (TypeError, ValueError):
            return False
        if json.loads(text) != datasets:
            return False
        atomic_write_text(self.datasets_path, text)
        return True

    def read_datasets(self) -> dict[str, dict | None]:
        """The stored datasets by role (train, validate, test); {} if none were stored."""
        if not self.datasets_path.exists():
            return {}
        datasets = self._read(self.datasets_path, "datasets")
        where = DocumentPath(str(self.datasets_path))
        for role, dataset in need_dict(datasets, where).items():
            if dataset is not None:
                data = need_dict(dataset, where / role, ("inputs", "infos"))
                for key in ("inputs", "infos"):
                    if not isinstance(data[key], list):
                        raise (where / role / key).fail("must be a list")
        return datasets

    def write_model(self, model: Any) -> None:
        """Save the parameter values of ``model`` as ``best_model.json``, next to the
        checkpoint that was just written."""
        model.save(self.model_path)

    @staticmethod
    def _read(path: Path, what: str, finite: bool = False) -> Any:
        """Parsed JSON; ``finite`` refuses NaN and infinities (a checkpoint never has them)."""
        if not path.exists():
            raise CheckpointError(f"{path} does not exist: no {what} in this run directory")
        constants = {"parse_constant": _refuse_constant} if finite else {}
        try:
            return json.loads(path.read_text(encoding="utf-8"), **constants)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise CheckpointError(f"{path} is not valid JSON ({error})") from None
        except RecursionError:
            raise CheckpointError(f"{path} nests too deeply to be an opto {what}") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a checkpoint holds")


@contextlib.contextmanager
def run_cache(directory: Path | None) -> Iterator[None]:
    """Cache every LLM reply of this run in ``directory`` while it lasts.

    Only this run's calls (its thread and the threads opto starts for it) use that cache; the
    process-wide cache and switch are left as they are, so runs in other threads keep theirs.
    Clients or calls that set ``cache=False`` (and the test doubles, by default) stay uncached.
    """
    if directory is None:
        yield
        return
    with cache_scope(directory, enabled=True):
        yield


USAGE_FIELDS = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "cost")


class UsageMeter:
    """Usage of this run: what earlier sessions spent plus the calls counted by ``counting()``.

    Only this run's calls are counted (a ledger of its own, not the process-wide one), so two
    runs in one process never count each other's. Calls made in other processes (process
    pools, Dask workers) reach the ledger when their example's result comes back. ``before``
    is what earlier sessions spent (the checkpoint's totals; None for a new run).
    """

    def __init__(self, before: dict[str, Any] | None = None) -> None:
        self._ledger = UsageLedger()
        self._before = {name: (before or {}).get(name, 0) for name in USAGE_FIELDS}

    def counting(self) -> contextlib.AbstractContextManager:
        """Count the calls made in this thread or task (and what it hands its context to)."""
        return usage_scope(self._ledger)

    def totals(self) -> dict[str, Any]:
        """Calls, cache hits, prompt and completion tokens, tokens and cost, earlier sessions
        included."""
        now = self._ledger.total.to_dict()
        totals = {name: self._before[name] + now[name] for name in USAGE_FIELDS}
        totals["tokens"] = totals["prompt_tokens"] + totals["completion_tokens"]
        return totals


@contextlib.contextmanager
def run_budget(
    max_cost: float | None, max_calls: int | None, spent: dict[str, Any]
) -> Iterator[None]:
    """A budget for what is left of the run's limits after earlier sessions, on this run's
    calls only (``opto.llm.budget`` scopes follow the thread or task, not the process).

    ``max_cost`` (dollars) and ``max_calls`` are the run's limits (None: none); ``spent`` is
    what earlier sessions used (``UsageMeter.totals()`` of the checkpoint).
    """
    if max_cost is None and max_calls is None:
        yield
        return
    cost_left = None if max_cost is None else max(0.0, max_cost - spent.get("cost", 0.0))
    calls_left = None if max_calls is None else max(0, max_calls - spent.get("calls", 0))
    with budget(max_cost=cost_left, max_calls=calls_left, name="training budget"):
        yield
