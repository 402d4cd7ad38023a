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
    """One evaluated proposal (a seed loss at generation 0, or one LLM reply).

    Args:
        id: the entry's number, 1 for the first entry, counting up in order.
        generation: the LLM proposal it came from (0 for a seed loss).
        origin: ``"seed"`` (a reference loss) or ``"llm"`` (a proposal).
        name: the loss function's name.
        thought: the proposer's stated idea (a seed's: its formula).
        code: the loss's source code.
        code_hash: the hash of its normalised code (``code_hash``), how duplicates were
            found; None when there was no code.
        status: ``"valid"``, ``"invalid"``, ``"failed"`` or ``"duplicate"``.
        stage: the evaluation stage that refused it (``static``, ``contract``, ``train``),
            None when it passed (default None).
        error: why it was refused, in the words the proposer read (default None).
        fitness: for a valid entry, ``{"mean", "sd", "n", "per_seed", "beta_per_seed"}`` of
            the trained loss's score over seeds; None otherwise (default).
        metrics: the training metrics (reward, KL, win rate ...) by beta (default empty).
        diagnostics: figures measured during evaluation, with ``"notes"`` in words (default
            empty).
        duplicate_of: the id of the earlier entry with the same code (default None).
        reply: the LLM's raw reply (default None: a seed, or no reply kept).
        feedback: the message sent back to the proposer about this entry (default "").
        usage: the LLM call's tokens and cost (default empty: a seed).
        seconds: how long evaluation took (default 0.0).
        created: when the entry was written, an ISO 8601 time (default "").
    """

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
        """The mean fitness over seeds (higher is better), or None for an entry without one."""
        return None if self.fitness is None else self.fitness["mean"]

    def to_dict(self) -> dict[str, Any]:
        """The entry as strict JSON data: every field, with NaN and infinities as None."""
        return _finite(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        """The entry a ``to_dict`` result (``data``) describes; fields this opto does not know
        (written by a newer one) are ignored. ``data`` is trusted here: ``Archive.load``
        checks the file first."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


class Archive:
    """The entries of one discovery run and the settings they were produced with.

    Made by ``Archive.load``; the constructor only stores what it is given.

    Args:
        path: the archive file's path (kept for messages and displays).
        settings: the run's settings (objective, contract, baselines, proposer mode).
        system_prompt: the system prompt the proposer LLM was sent.
        entries: the entries in order (default none).
    """

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
        """Read the archive file at ``path``; :class:`ArchiveError` says why one cannot be
        used (every field is checked, :mod:`opto.discovery.archive_schema`)."""
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
        """The seed (reference) losses' entries, in order."""
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
        """The entry numbered ``entry_id`` (ids count from 1, as in the table)."""
        return self.entries[entry_id - 1]

    def ranked(self) -> list[Entry]:
        """Valid entries, best fitness first (ties: earlier first)."""
        valid = [entry for entry in self.entries if entry.status == "valid"]
        return sorted(valid, key=lambda entry: (-entry.fitness_mean, entry.id))

    def best(self) -> Entry | None:
        """The valid entry with the best mean fitness (the earliest of ties), or None."""
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
        """How many entries have each status, e.g. ``{"valid": 4, "invalid": 1}``."""
        counted: dict[str, int] = {}
        for entry in self.entries:
            counted[entry.status] = counted.get(entry.status, 0) + 1
        return counted

    def __repr__(self) -> str:
        return archive_repr(self)

    def _repr_html_(self) -> str:
        return archive_html(self)

    def table(self, width: int = 60) -> str:
        """A text table of every entry: id, generation, name, status, fitness, note.

        Args:
            width: the characters of the note column (the error or first diagnostic note,
                cut with "..."; default 60).
        """
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
