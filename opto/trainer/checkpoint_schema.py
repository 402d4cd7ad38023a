"""What a trainer checkpoint may hold, checked before any of it is used.

A run directory is input like any other: a checkpoint may be cut short by a full disk, edited
by hand or damaged on purpose. Resuming from it must either continue a run that could have
happened or refuse with :class:`CheckpointError` naming the bad field, never fail later with
a ``KeyError`` deep inside the loop, and never continue in an impossible state (a negative
cost, a batch position past the data, a text where an int parameter was).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from opto.trace.modules import type_mismatch
from opto.utils.errors import OptoError
from opto.utils.json_values import DamagedValue, decode_value

MAX_COUNT = 2**63 - 1
"""Counters (steps, ids, token counts) above this are not from a real run."""

MAX_DOCUMENT_DEPTH = 200
"""Snapshot values may nest 100 levels; the document around them needs a few more."""

USAGE_COUNTS = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "tokens")
_MT_STATE = 625  # Mersenne Twister state words plus the position


class CheckpointError(OptoError, ValueError):
    """A run directory or checkpoint cannot be used as asked."""


class DocumentPath:
    """Where in the document a value is, for messages like ``pool.candidates[2].id``.

    ``what`` names the document (``the checkpoint``, a file path); ``parts`` are the keys and
    indices leading to the value. ``path / key`` goes one level deeper.
    """

    def __init__(self, what: str, parts: tuple[str, ...] = ()) -> None:
        self.what = what
        self.parts = parts

    def __truediv__(self, part: str | int) -> DocumentPath:
        step = f"[{part}]" if isinstance(part, int) else str(part)
        return DocumentPath(self.what, (*self.parts, step))

    def fail(self, problem: str) -> CheckpointError:
        """The ``CheckpointError`` (to raise) saying the value here is damaged: ``problem``
        says how, after the value's place."""
        where = "".join(p if p.startswith("[") else f".{p}" for p in self.parts).lstrip(".")
        return CheckpointError(f"{self.what} is damaged: {where or 'the document'} {problem}")


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, (str, bool, type(None))) else type(value).__name__
    return text if len(text) <= 60 else text[:60] + "..."


def need_dict(value: Any, path: DocumentPath, keys: tuple[str, ...] = ()) -> dict:
    """``value`` if it is a JSON object with each of ``keys``, else a ``CheckpointError``
    naming ``path``, the value's place in the document."""
    if not isinstance(value, dict):
        raise path.fail(f"must be an object, not {_show(value)}")
    for key in keys:
        if key not in value:
            raise (path / key).fail("is missing")
    return value


def need_list(value: Any, path: DocumentPath) -> list:
    """``value`` if it is a JSON list, else a ``CheckpointError`` naming ``path``."""
    if not isinstance(value, list):
        raise path.fail(f"must be a list, not {_show(value)}")
    return value


def need_int(
    value: Any, path: DocumentPath, low: int = 0, high: int = MAX_COUNT, optional: bool = False
) -> int | None:
    """``value`` if it is an int from ``low`` to ``high`` (or None when ``optional``), else
    a ``CheckpointError`` naming ``path``; a bool or a float is refused."""
    if value is None and optional:
        return None
    if type(value) is not int or not low <= value <= high:
        raise path.fail(f"must be an int from {low} to {high}, not {_show(value)}")
    return value


def need_number(
    value: Any, path: DocumentPath, low: float = -math.inf, optional: bool = False
) -> float | None:
    """``value`` if it is a finite number of at least ``low`` (or None when ``optional``),
    else a ``CheckpointError`` naming ``path``."""
    if value is None and optional:
        return None
    finite = type(value) in (int, float) and math.isfinite(value)
    if not finite or value < low:
        bound = "" if low == -math.inf else f" >= {low}"
        raise path.fail(f"must be a finite number{bound}, not {_show(value)}")
    return value


def need_str(value: Any, path: DocumentPath, optional: bool = False) -> str | None:
    """``value`` if it is a string (or None when ``optional``), else a ``CheckpointError``
    naming ``path``."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise path.fail(f"must be a string, not {_show(value)}")
    return value


def document_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value``, a parsed JSON document (measured
    iteratively, and only up to the limit, so a hostile document cannot exhaust the stack)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            if deepest > MAX_DOCUMENT_DEPTH:
                return deepest
            members = item.values() if isinstance(item, dict) else item
            stack.extend((member, depth + 1) for member in members)
    return deepest


def check_rng_state(value: Any, path: DocumentPath) -> None:
    """Check that ``value`` is ``random.Random.getstate()`` as JSON: ``[3, [625 words],
    gauss or null]``; a ``CheckpointError`` naming ``path`` if not."""
    state = need_list(value, path)
    if len(state) != 3:
        raise path.fail("must be [version, state words, gauss]")
    need_int(state[0], path / 0, low=3, high=3)
    words = need_list(state[1], path / 1)
    if len(words) != _MT_STATE:
        raise (path / 1).fail(f"must hold {_MT_STATE} numbers, not {len(words)}")
    for index, word in enumerate(words[:-1]):
        need_int(word, path / 1 / index, high=2**32 - 1)
    need_int(words[-1], path / 1 / (_MT_STATE - 1), high=_MT_STATE - 1)
    need_number(state[2], path / 2, optional=True)


def check_scores(value: Any, path: DocumentPath) -> None:
    """Check that ``value`` is a score dict (metric name -> finite number); a
    ``CheckpointError`` naming ``path`` if not."""
    for name, score in need_dict(value, path).items():
        need_number(score, path / name)


def check_checkpoint(document: Any, what: str = "the checkpoint") -> dict[str, Any]:
    """``document`` if it is a checkpoint a run could have written, else ``CheckpointError``;
    ``what`` names the document in the message."""
    root = DocumentPath(what)
    if document_depth(document) > MAX_DOCUMENT_DEPTH:
        raise root.fail(f"nests deeper than {MAX_DOCUMENT_DEPTH} levels")
    keys = ("algorithm", "step", "loader", "rng", "pool", "optimizers", "train_scores")
    keys += ("test_scores", "usage", "elapsed_s", "fingerprints")
    state = need_dict(document, root, keys)
    need_str(state["algorithm"], root / "algorithm")
    step = need_int(state["step"], root / "step")
    need_str(state.get("stopped"), root / "stopped", optional=True)
    _check_loader(state["loader"], root / "loader")
    check_rng_state(state["rng"], root / "rng")
    _check_pool(state["pool"], root / "pool", step)
    for index, saved in enumerate(need_list(state["optimizers"], root / "optimizers")):
        need_dict(saved, root / "optimizers" / index)
    for index, score in enumerate(need_list(state["train_scores"], root / "train_scores")):
        need_number(score, root / "train_scores" / index, optional=True)
    for index, entry in enumerate(need_list(state["test_scores"], root / "test_scores")):
        path = root / "test_scores" / index
        if not isinstance(entry, list) or len(entry) != 2:
            raise path.fail("must be [step, score]")
        need_int(entry[0], path / 0, high=step)
        need_number(entry[1], path / 1, optional=True)
    usage = need_dict(state["usage"], root / "usage", (*USAGE_COUNTS, "cost"))
    for name in USAGE_COUNTS:
        need_int(usage[name], root / "usage" / name)
    need_number(usage["cost"], root / "usage" / "cost", low=0.0)
    need_number(state["elapsed_s"], root / "elapsed_s", low=0.0)
    need_int(state.get("evaluations"), root / "evaluations", optional=True)  # older runs: none
    fingerprints = need_dict(state["fingerprints"], root / "fingerprints", ("train",))
    for role in ("train", "validate", "test"):
        need_str(fingerprints.get(role), root / "fingerprints" / role, optional=True)
    return state


def _check_loader(value: Any, path: DocumentPath) -> None:
    keys = ("order", "position", "n_epochs", "rng", "size")
    loader = need_dict(value, path, keys)
    size = need_int(loader["size"], path / "size")
    order = need_list(loader["order"], path / "order")
    for index, item in enumerate(order):
        need_int(item, path / "order" / index, high=max(size - 1, 0))
    if sorted(order) != list(range(size)):
        raise (path / "order").fail(f"must be an ordering of the {size} examples")
    need_int(loader["position"], path / "position", high=len(order))
    need_int(loader["n_epochs"], path / "n_epochs")
    check_rng_state(loader["rng"], path / "rng")


def _check_pool(value: Any, path: DocumentPath, step: int) -> None:
    pool = need_dict(value, path, ("candidates", "current", "next_id"))
    next_id = need_int(pool["next_id"], path / "next_id")
    candidates = need_list(pool["candidates"], path / "candidates")
    if not candidates:
        raise (path / "candidates").fail("must hold at least one candidate")
    ids: set[int] = set()
    for index, candidate in enumerate(candidates):
        where = path / "candidates" / index
        keys = ("id", "parent", "step", "snapshot", "validation", "rollouts")
        item = need_dict(candidate, where, keys)
        ids.add(need_int(item["id"], where / "id", high=max(next_id - 1, 0)))
        need_int(item["parent"], where / "parent", high=max(next_id - 1, 0), optional=True)
        need_int(item["step"], where / "step", high=step)
        for name, data in need_dict(item["snapshot"], where / "snapshot").items():
            try:
                decode_value(data)
            except DamagedValue as error:
                raise (where / "snapshot" / name).fail(str(error)) from None
        for key, scores in need_dict(item["validation"], where / "validation").items():
            if not (key.isascii() and key.isdigit() and len(key) < 19):
                raise (where / "validation").fail(f"has the key {key!r}, not an example index")
            check_scores(scores, where / "validation" / key)
        for index2, scores in enumerate(need_list(item["rollouts"], where / "rollouts")):
            check_scores(scores, where / "rollouts" / index2)
    if len(ids) != len(candidates):
        raise (path / "candidates").fail("has two candidates with the same id")
    if pool["current"] not in ids or type(pool["current"]) is not int:
        raise (path / "current").fail(
            f"must be the id of a candidate, not {_show(pool['current'])}"
        )


def check_snapshot_fits(
    snapshot: Mapping[str, Any], current: Mapping[str, Any], where: str
) -> str | None:
    """Why ``snapshot`` (path -> decoded value) cannot be put into parameters whose values
    are now ``current`` (path -> value), or None. Unknown paths and other types refuse.
    ``where`` names the snapshot in the message (``the checkpoint's candidate 3``, ...)."""
    unknown = sorted(set(snapshot) - set(current))
    if unknown:
        return f"{where} names parameter(s) {unknown} the model does not have"
    for path, value in snapshot.items():
        mismatch = type_mismatch(current[path], value)
        if mismatch:
            return f"{where}, parameter {path}: {mismatch.replace('the file', 'it')}"
    return None
