"""The discovery archive: every proposal, its outcome and its cost, in one JSON file.

The file is rewritten atomically after every entry (:mod:`opto.utils.atomic`), so killing the
process at any moment leaves the previous complete archive: at most the proposal in flight is
lost, and a resumed run asks for it again. The archive is also what the proposer is shown, in
either feedback mode (:mod:`opto.discovery.context`): each LLM entry keeps the raw reply and the
feedback message it received, so the paper's growing transcript can be rebuilt exactly.

One writer at a time: a save first checks, under a lock on the archive's directory, that the
file is still the one this process last read or wrote. If another process wrote it meanwhile
(two runs pointed at one archive), the save is refused with :class:`ArchiveError` and the other
run's entries stay as they are.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from opto.discovery.archive_display import archive_html, archive_repr
from opto.discovery.archive_schema import check_document
from opto.discovery.errors import ArchiveError
from opto.utils.atomic import atomic_write_json, remove_leftovers

ARCHIVE_FORMAT = "opto-discovery-archive"
ARCHIVE_VERSION = 1


@dataclass
class Entry:
    """One evaluated proposal (a seed loss at generation 0, or one LLM reply).

    ``id`` numbers entries from 1 in order; ``generation`` is the proposal round (0 for
    seeds) and ``origin`` ``seed`` or ``llm``. ``name``, ``thought`` and ``code`` are what
    the proposer called the loss, its reasoning and its code; ``code_hash`` identifies the
    normalised code (None when no code was read), so a repeat is recognised. ``status`` is
    ``valid``, ``invalid``, ``failed`` or ``duplicate`` and ``stage`` where evaluation
    stopped; ``error`` says why. ``fitness`` (mean and sd over seeds), ``metrics`` and
    ``diagnostics`` are what evaluation measured; ``duplicate_of`` is the entry with the same
    code; ``reply`` the proposer's raw reply and ``feedback`` the text sent back for it;
    ``usage`` the call's tokens and cost; ``seconds`` the evaluation time and ``created`` an
    ISO timestamp.
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
        """The mean fitness, or None when the entry is not valid."""
        return None if self.fitness is None else self.fitness["mean"]

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data (non-finite numbers made JSON-safe)."""
        return _finite(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        """The entry stored as ``data`` (keys of other versions are ignored; the archive
        schema has checked the values)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


class Archive:
    """The entries of one discovery run and the settings they were produced with.

    ``path`` is the JSON file it is saved to; ``settings`` the run's configuration
    (objective, contract, baselines, mode); ``system_prompt`` the prompt the proposer gets;
    ``entries`` the entries so far (none for a new run).
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
        self._seen: tuple[int, int, int] | None = None  # the file as last read or written here

    @classmethod
    def load(cls, path: str | os.PathLike) -> Archive:
        """Read the archive file at ``path``; :class:`ArchiveError` says why one cannot be used.

        Every field is checked (:mod:`opto.discovery.archive_schema`), and temporaries that a
        kill during a save left next to the file are removed.
        """
        target = Path(path)
        if target.parent.is_dir():
            with _directory_lock(target.parent):
                remove_leftovers(target)
        seen = _file_identity(target)  # before reading: a write in between is caught at save
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
        archive = cls(target, data["settings"], data["system_prompt"], items)
        archive._seen = seen
        return archive

    def save(self) -> None:
        """Write the file atomically, unless another writer changed it since it was read here."""
        document = {
            "format": ARCHIVE_FORMAT,
            "version": ARCHIVE_VERSION,
            "settings": self.settings,
            "system_prompt": self.system_prompt,
            "entries": [entry.to_dict() for entry in self.entries],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _directory_lock(self.path.parent):
            if self._seen is not None and _file_identity(self.path) != self._seen:
                raise ArchiveError(
                    f"the discovery archive {self.path} was written by another process since "
                    "this one read it; nothing was written. Run one loop per archive, and "
                    "resume from the file to continue"
                )
            atomic_write_json(self.path, document)
            self._seen = _file_identity(self.path)

    def add(self, **values: Any) -> Entry:
        """Append an entry (its id is the next number) and write the file."""
        values.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        entry = Entry(id=len(self.entries) + 1, **values)
        self.entries.append(entry)
        self.save()
        return entry

    @property
    def seeds(self) -> list[Entry]:
        """The baseline entries (generation 0), in order."""
        return [entry for entry in self.entries if entry.origin == "seed"]

    @property
    def proposals(self) -> list[Entry]:
        """The LLM's entries, in order."""
        return [entry for entry in self.entries if entry.origin == "llm"]

    @property
    def generations(self) -> int:
        """LLM proposals made so far (each one uses a generation, whatever its outcome)."""
        return len(self.proposals)

    def get(self, entry_id: int) -> Entry:
        """The entry whose id is ``entry_id``."""
        return self.entries[entry_id - 1]

    def original_of(self, code_hash: str | None) -> Entry | None:
        """The evaluated entry whose normalised code hashes to ``code_hash``, if any (never a
        duplicate; None for a None hash)."""
        if code_hash is None:
            return None
        for entry in self.entries:
            if entry.code_hash == code_hash and entry.status != "duplicate":
                return entry
        return None

    def ranked(self) -> list[Entry]:
        """Valid entries, best fitness first (ties: earlier first)."""
        valid = [entry for entry in self.entries if entry.status == "valid"]
        return sorted(valid, key=lambda entry: (-entry.fitness_mean, entry.id))

    def best(self) -> Entry | None:
        """The valid entry of highest mean fitness (the earliest on a tie), or None."""
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
        """How many entries ended with each status."""
        counted: dict[str, int] = {}
        for entry in self.entries:
            counted[entry.status] = counted.get(entry.status, 0) + 1
        return counted

    def __repr__(self) -> str:
        return archive_repr(self)

    def _repr_html_(self) -> str:
        return archive_html(self)

    def table(self, width: int = 60) -> str:
        """A text table of every entry: id, generation, name, status, fitness, note (cut to
        ``width`` characters)."""
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


def _file_identity(path: Path) -> tuple[int, int, int] | None:
    """Inode, modification time and size: an atomic rewrite always changes the inode."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock shared by every process saving an archive in ``directory``."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the identity check alone still catches most races
        yield
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


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
