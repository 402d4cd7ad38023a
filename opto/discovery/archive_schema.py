"""What a discovery archive file may hold, checked when it is read.

An archive is input like any other: a file edited by hand, cut short or damaged on purpose
must give :class:`~opto.discovery.errors.ArchiveError` naming the bad field when it is loaded,
not a ``KeyError`` or ``TypeError`` generations later when the proposer's prompt is built.
Unknown fields (from a newer opto) are ignored.
"""

from __future__ import annotations

import math
from typing import Any

from opto.discovery.errors import ArchiveError
from opto.utils.errors import OptoError

ORIGINS = ("seed", "llm")
STATUSES = ("valid", "invalid", "failed", "duplicate")
MAX_DEPTH = 32
"""Archives nest a handful of levels (entries, metrics per beta); deeper is damage."""


def check_document(data: Any, target: str) -> None:
    """Raise ``ArchiveError`` unless ``data`` (parsed JSON) is an archive a run could write;
    ``target`` names the file in the message."""
    if _depth(data) > MAX_DEPTH:
        raise ArchiveError(f"the discovery archive {target} nests deeper than {MAX_DEPTH} levels")
    try:
        _check_top(data)
    except _Bad as error:
        raise ArchiveError(f"the discovery archive {target} is damaged: {error}") from None


class _Bad(OptoError):
    """A field that breaks the schema; the message names it."""


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((member, depth + 1) for member in _members(item))
    return deepest


def _members(item: list | dict) -> Any:
    return item.values() if isinstance(item, dict) else item


def _check_top(data: Any) -> None:
    _need(data, dict, "the document")
    for key in ("settings", "system_prompt", "entries"):
        if key not in data:
            raise _Bad(f"{key} is missing")
    _need(data["settings"], dict, "settings")
    _need(data["system_prompt"], str, "system_prompt")
    entries = _need(data["entries"], list, "entries")
    for index, item in enumerate(entries):
        _check_entry(item, index)


def _check_entry(item: Any, index: int) -> None:
    where = f"entries[{index}]"
    entry = _need(item, dict, where)
    for key in ("id", "generation", "origin", "name", "thought", "code", "code_hash", "status"):
        if key not in entry:
            raise _Bad(f"{where}.{key} is missing")
    if type(entry["id"]) is not int or entry["id"] != index + 1:
        raise _Bad(f"{where}.id must be {index + 1} (entries are numbered in order)")
    _count(entry["generation"], f"{where}.generation")
    if entry["origin"] not in ORIGINS:
        raise _Bad(f"{where}.origin must be one of {ORIGINS}")
    if entry["status"] not in STATUSES:
        raise _Bad(f"{where}.status must be one of {STATUSES}")
    for key in ("name", "thought", "code", "feedback", "created"):
        if key in entry:
            _need(entry[key], str, f"{where}.{key}")
    for key in ("code_hash", "stage", "error", "reply"):
        if entry.get(key) is not None:
            _need(entry[key], str, f"{where}.{key}")
    duplicate_of = entry.get("duplicate_of")
    if duplicate_of is not None and (
        type(duplicate_of) is not int or not 1 <= duplicate_of <= index
    ):
        raise _Bad(f"{where}.duplicate_of must be the id of an earlier entry")
    fitness = entry.get("fitness")
    if fitness is None and entry["status"] == "valid":
        raise _Bad(f"{where} is valid but has no fitness")
    if fitness is not None:
        _check_fitness(fitness, f"{where}.fitness")
    for beta, row in _need(entry.get("metrics", {}), dict, f"{where}.metrics").items():
        for name, value in _need(row, dict, f"{where}.metrics.{beta}").items():
            _number(value, f"{where}.metrics.{beta}.{name}", optional=True)
    diagnostics = _need(entry.get("diagnostics", {}), dict, f"{where}.diagnostics")
    notes = _need(diagnostics.get("notes", []), list, f"{where}.diagnostics.notes")
    for position, note in enumerate(notes):
        _need(note, str, f"{where}.diagnostics.notes[{position}]")
    _check_usage(entry.get("usage", {}), f"{where}.usage")
    _number(entry.get("seconds", 0.0), f"{where}.seconds", low=0.0)


def _check_fitness(value: Any, where: str) -> None:
    fitness = _need(value, dict, where)
    for key in ("mean", "sd", "n"):
        if key not in fitness:
            raise _Bad(f"{where}.{key} is missing")
    _number(fitness["mean"], f"{where}.mean")
    _number(fitness["sd"], f"{where}.sd", low=0.0)
    _count(fitness["n"], f"{where}.n")
    for key in ("per_seed", "beta_per_seed"):
        for position, item in enumerate(_need(fitness.get(key, []), list, f"{where}.{key}")):
            _number(item, f"{where}.{key}[{position}]", optional=True)


def _check_usage(value: Any, where: str) -> None:
    usage = _need(value, dict, where)
    for key in ("prompt_tokens", "completion_tokens"):
        if key in usage:
            _count(usage[key], f"{where}.{key}")
    if "cost" in usage:
        _number(usage["cost"], f"{where}.cost", low=0.0, optional=True)
    for key in ("estimated", "cache_hit"):
        if key in usage and not isinstance(usage[key], bool):
            raise _Bad(f"{where}.{key} must be true or false")
    if "model" in usage:
        _need(usage["model"], str, f"{where}.model")


def _need(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        names = {dict: "an object", list: "a list", str: "a string"}
        raise _Bad(f"{where} must be {names.get(kind, kind.__name__)}, not {type(value).__name__}")
    return value


def _count(value: Any, where: str) -> None:
    if type(value) is not int or value < 0:
        raise _Bad(f"{where} must be an int >= 0")


def _number(value: Any, where: str, low: float = -math.inf, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) not in (int, float) or not math.isfinite(value) or value < low:
        bound = "" if low == -math.inf else f" >= {low:g}"
        raise _Bad(f"{where} must be a finite number{bound}")
