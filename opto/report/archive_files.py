"""A discovery archive (``opto.discovery.archive``), read without trusting its values.

``Archive.load`` checks the file's format and structure; this module then turns each entry
into an ``EntryRow`` whose fields have the expected types, whatever the file held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opto.report.values import (
    MAX_FILE_BYTES,
    RunFileError,
    integer,
    mapping,
    number,
    number_map,
    text,
)


@dataclass
class EntryRow:
    """One archive entry with checked fields (``fitness``/``sd`` None unless valid).

    ``id`` numbers entries; ``generation`` is the proposal round (0 for seeds) and
    ``origin`` ``seed`` or ``llm``; ``name`` the proposal's name and ``status`` how its
    evaluation ended (``valid``, ``invalid``, ``failed``, ``duplicate``). ``fitness`` is the mean
    fitness over seeds and ``sd`` its standard deviation. ``code`` is the proposed code and
    ``thought`` the reasoning given with it; ``error`` and ``feedback`` what the evaluation
    said; ``metrics`` the other figures measured; ``usage`` the tokens and cost of the
    proposal; ``seconds`` the evaluation time; ``duplicate_of`` the entry with the same code.
    """

    id: int
    generation: int
    origin: str
    name: str
    status: str
    fitness: float | None
    sd: float | None
    code: str
    thought: str
    error: str
    feedback: str
    metrics: dict[str, Any]
    usage: dict[str, float]
    seconds: float | None
    duplicate_of: int | None


@dataclass
class DiscoveryRun:
    """A discovery archive: its settings and entries, plus usage and counts.

    ``path`` is the archive file; ``settings`` what the run was configured with;
    ``entries`` every evaluated proposal in order; ``usage`` the run's summed calls, tokens
    and cost.
    """

    path: Path
    settings: dict[str, Any]
    entries: list[EntryRow]
    usage: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> EntryRow | None:
        """The valid entry of highest fitness (the earliest on a tie), or None."""
        valid = [e for e in self.entries if e.status == "valid" and e.fitness is not None]
        return max(valid, key=lambda e: (e.fitness, -e.id)) if valid else None

    @property
    def generations(self) -> int:
        """How many proposals the LLM made (seed entries not counted)."""
        return sum(1 for e in self.entries if e.origin == "llm")

    def counts(self) -> dict[str, int]:
        """How many entries ended with each status."""
        found: dict[str, int] = {}
        for entry in self.entries:
            found[entry.status] = found.get(entry.status, 0) + 1
        return found


def read_archive(path: str | Path) -> DiscoveryRun:
    """Load and check the archive at ``path``; ``RunFileError`` saying why it cannot be used."""
    target = Path(path)
    try:
        from opto.discovery.archive import Archive
        from opto.discovery.errors import ArchiveError
    except ImportError as error:
        raise RunFileError(
            f"reading a discovery archive needs the discovery extra ({error.name} is missing): "
            "pip install 'opto[discovery]'"
        ) from None
    try:
        if target.stat().st_size > MAX_FILE_BYTES:
            raise RunFileError(f"{target} is larger than {MAX_FILE_BYTES:,} bytes")
        archive = Archive.load(target)
    except ArchiveError as error:
        raise RunFileError(str(error)) from None
    except (RecursionError, OSError) as error:
        raise RunFileError(f"cannot read the discovery archive {target}: {error}") from None
    entries = [_entry(position, item) for position, item in enumerate(archive.entries, start=1)]
    return DiscoveryRun(
        path=target,
        settings=mapping(archive.settings),
        entries=entries,
        usage=_usage(entries),
    )


def _entry(position: int, entry: Any) -> EntryRow:
    fitness = mapping(getattr(entry, "fitness", None))
    status = text(getattr(entry, "status", "")) or "?"
    return EntryRow(
        id=integer(getattr(entry, "id", None)) or position,
        generation=integer(getattr(entry, "generation", None)) or 0,
        origin=text(getattr(entry, "origin", "")),
        name=text(getattr(entry, "name", "")),
        status=status,
        fitness=number(fitness.get("mean")) if status == "valid" else None,
        sd=number(fitness.get("sd")) if status == "valid" else None,
        code=text(getattr(entry, "code", "")),
        thought=text(getattr(entry, "thought", "")),
        error=text(getattr(entry, "error", "")),
        feedback=text(getattr(entry, "feedback", "")),
        metrics=mapping(getattr(entry, "metrics", None)),
        usage=number_map(getattr(entry, "usage", None)),
        seconds=number(getattr(entry, "seconds", None)),
        duplicate_of=integer(getattr(entry, "duplicate_of", None)),
    )


def _usage(entries: list[EntryRow]) -> dict[str, Any]:
    """Calls, tokens and cost over the LLM's entries (cost None if any call was unpriced)."""
    total: dict[str, Any] = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
    for entry in entries:
        if entry.origin != "llm" or not entry.usage:
            continue
        total["calls"] += 1
        total["prompt_tokens"] += int(entry.usage.get("prompt_tokens", 0))
        total["completion_tokens"] += int(entry.usage.get("completion_tokens", 0))
        cost = entry.usage.get("cost")
        total["cost"] = None if cost is None or total["cost"] is None else total["cost"] + cost
    total["tokens"] = total["prompt_tokens"] + total["completion_tokens"]
    return total
