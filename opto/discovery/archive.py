"""Archives of the earlier ``DiscoveryLoop``: every proposal, its outcome and its cost, in one
JSON file (format ``opto-discovery-archive``, version 1).

Discovery now runs on the trainer and saves a run directory (``opto.discovery.discover``); no
code writes these files any more. They still load, read-only: ``Archive.load`` checks every
field (:mod:`opto.discovery.archive_schema`) and raises :class:`ArchiveError` for a file a run
could not have written, and the queries below (ranking, best, usage, the table) summarise it.
``best_code_of_archive`` starts a new run from an archive's best loss.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from opto.discovery.archive_display import archive_html, archive_repr
from opto.discovery.archive_schema import check_document
from opto.discovery.errors import ArchiveError

ARCHIVE_FORMAT = "opto-discovery-archive"
ARCHIVE_VERSION = 1


@dataclass
class Entry:
    """One evaluated proposal (a seed loss at generation 0, or one LLM reply)."""

    id: int
    generation: int
    origin: str
    name: str
    thought: str
    code: str
    code_hash: str | None
    status: str
    stage: str | None = None
    error: str | None = None
    fitness: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    duplicate_of: int | None = None
    reply: str | None = None
    feedback: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    created: str = ""

    @property
    def fitness_mean(self) -> float | None:
        return None if self.fitness is None else self.fitness["mean"]

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


class Archive:
    """The entries of one discovery run and the settings they were produced with."""

    def __init__(
        self,
        path: str | os.PathLike,
        settings: dict[str, Any],
        system_prompt: str,
        entries: list[Entry] | None = None,
    ) -> None:
        self.path = Path(path)
        self.settings = settings
        self.system_prompt = system_prompt
        self.entries: list[Entry] = list(entries or [])

    @classmethod
    def load(cls, path: str | os.PathLike) -> Archive:
        """Read an archive file; :class:`ArchiveError` says why one cannot be used (every
        field is checked, :mod:`opto.discovery.archive_schema`)."""
        target = Path(path)
        try:
            data = json.loads(target.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ArchiveError(f"no discovery archive at {target}") from None
        except (OSError, ValueError) as error:
            raise ArchiveError(f"cannot read the discovery archive {target}: {error}") from None
        except RecursionError:
            raise ArchiveError(f"the discovery archive {target} nests too deeply") from None
        if not isinstance(data, dict) or data.get("format") != ARCHIVE_FORMAT:
            raise ArchiveError(f"{target} is not a discovery archive (format {ARCHIVE_FORMAT!r})")
        if data.get("version") != ARCHIVE_VERSION:
            raise ArchiveError(
                f"{target} has archive version {data.get('version')!r}; this opto reads "
                f"version {ARCHIVE_VERSION}"
            )
        check_document(data, str(target))
        items = [Entry.from_dict(item) for item in data["entries"]]
        return cls(target, data["settings"], data["system_prompt"], items)

    @property
    def seeds(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.origin == "seed"]

    @property
    def proposals(self) -> list[Entry]:
        """The LLM's entries, in order."""
        return [entry for entry in self.entries if entry.origin == "llm"]

    @property
    def generations(self) -> int:
        """LLM proposals the run made (each one used a generation, whatever its outcome)."""
        return len(self.proposals)

    def get(self, entry_id: int) -> Entry:
        return self.entries[entry_id - 1]

    def ranked(self) -> list[Entry]:
        """Valid entries, best fitness first (ties: earlier first)."""
        valid = [entry for entry in self.entries if entry.status == "valid"]
        return sorted(valid, key=lambda entry: (-entry.fitness_mean, entry.id))

    def best(self) -> Entry | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def usage(self) -> dict[str, Any]:
        """LLM tokens and cost summed over the entries: cost None if any call was unpriced,
        ``estimated`` True if any call's tokens were estimated (the server reported none)."""
        total: dict[str, Any] = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
        cost: float | None = 0.0
        estimated = False
        for entry in self.proposals:
            if not entry.usage:
                continue
            total["calls"] += 1
            total["prompt_tokens"] += entry.usage.get("prompt_tokens", 0)
            total["completion_tokens"] += entry.usage.get("completion_tokens", 0)
            spent = entry.usage.get("cost")
            cost = None if spent is None or cost is None else cost + spent
            estimated = estimated or bool(entry.usage.get("estimated"))
        total["cost"] = cost
        total["estimated"] = estimated
        return total

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for entry in self.entries:
            counted[entry.status] = counted.get(entry.status, 0) + 1
        return counted

    def __repr__(self) -> str:
        return archive_repr(self)

    def _repr_html_(self) -> str:
        return archive_html(self)

    def table(self, width: int = 60) -> str:
        """A text table of every entry: id, generation, name, status, fitness, note."""
        rows = [("id", "gen", "name", "status", "fitness", "note")]
        for entry in self.entries:
            fitness = "-"
            if entry.fitness is not None:
                fitness = f"{entry.fitness['mean']:.3f} ± {entry.fitness['sd']:.3f}"
            rows.append(
                (
                    str(entry.id),
                    "seed" if entry.origin == "seed" else str(entry.generation),
                    _shorten(entry.name, 26),
                    entry.status,
                    fitness,
                    _shorten(_note(entry), width),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )


def _note(entry: Entry) -> str:
    if entry.duplicate_of is not None:
        return f"same code as #{entry.duplicate_of}"
    if entry.error:
        return " ".join(entry.error.split())
    notes = entry.diagnostics.get("notes") or []
    return " ".join(notes[0].split()) if notes else ""


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _finite(value: Any) -> Any:
    """NaN and infinities become None: the archive is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
