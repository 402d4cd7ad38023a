"""The two ways the archive is fed back to the proposer.

``"transcript"``: the DiscoPOP paper's loop. One conversation that only grows: the system
prompt, the seed losses, then every reply followed by its feedback. The model sees everything in
order, and the prompt grows with every generation. Rebuilt from the archive, so a resumed run
sends exactly the messages the interrupted one would have.

``"archive"``: a view rebuilt every generation and sent as a fresh two-message conversation:
the best entries by fitness, the most recent ones and the recent failures with their errors,
within a character budget (:class:`ArchiveView`). The prompt stays bounded in long runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from opto.discovery.archive import Archive, Entry
from opto.discovery.prompts import NEXT, outcome_summary, seed_message

MODES = ("transcript", "archive")
_THOUGHT_CHARS = 400
_ERROR_CHARS = 800
_OMISSION_RESERVE = 120


def transcript_messages(archive: Archive) -> list[dict[str, str]]:
    """The messages of ``"transcript"`` mode for ``archive``: system prompt, seed message,
    then (reply, feedback) for every LLM entry."""
    messages = [
        {"role": "system", "content": archive.system_prompt},
        {"role": "user", "content": seed_message(archive.seeds)},
    ]
    for entry in archive.proposals:
        messages.append({"role": "assistant", "content": entry.reply or ""})
        messages.append({"role": "user", "content": entry.feedback})
    return messages


@dataclass(frozen=True)
class ArchiveView:
    """What the ``"archive"`` mode shows: the ``top_k`` best entries, the ``recent`` latest
    proposals, and the ``failures`` latest failed or invalid entries not shown above, each entry
    at most once, in at most ``max_chars`` characters.

    An entry that does not fit in full is shown without its code; one that does not fit at all
    is left out and counted in a closing note.
    """

    top_k: int = 5
    recent: int = 3
    failures: int = 3
    max_chars: int = 12_000

    def __post_init__(self) -> None:
        for name in ("top_k", "recent", "failures"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ArchiveView.{name} must be an int >= 0, got {value!r}")
        if self.max_chars < 1000:
            raise ValueError(f"ArchiveView.max_chars must be at least 1000, got {self.max_chars}")

    def to_dict(self) -> dict[str, Any]:
        """The view's settings as a dict (stored in the archive's settings)."""
        return asdict(self)

    def render(self, archive: Archive) -> str:
        """The user message of one generation, drawn from ``archive``; never longer than
        ``max_chars``."""
        counts = ", ".join(f"{n} {status}" for status, n in sorted(archive.counts().items()))
        header = (
            f"The archive of losses tried so far has {len(archive.entries)} entries "
            f"({counts or 'none yet'}). Fitness is higher-is-better; it is described in the "
            "system prompt."
        )
        footer = f"{NEXT} Do not repeat a loss that is already in the archive."
        room = self.max_chars - len(header) - len(footer) - _OMISSION_RESERVE
        shown: set[int] = set()
        body: list[str] = []
        omitted = 0
        for title, candidates, quota in self._sections(archive):
            section: list[str] = []
            items = [entry for entry in candidates if entry.id not in shown][:quota]
            for entry in items:
                title_cost = 0 if section else len(title) + 2
                for text in (_render(entry, with_code=True), _render(entry, with_code=False)):
                    cost = len(text) + 2 + title_cost
                    if cost <= room:
                        room -= cost
                        section.append(text)
                        shown.add(entry.id)
                        break
                else:
                    omitted += 1
            if section:
                body.append("\n\n".join([title, *section]))
        parts = [header, *body]
        if omitted:
            parts.append(f"({omitted} more entries are not shown, to keep this message short.)")
        parts.append(footer)
        return "\n\n".join(parts)

    def _sections(self, archive: Archive) -> list[tuple[str, list[Entry], int]]:
        """(title, candidates newest or best first, how many to show) per section."""
        failures = [e for e in archive.entries if e.status in ("invalid", "failed")]
        return [
            (f"## Best so far (top {self.top_k} by fitness)", archive.ranked(), self.top_k),
            ("## Most recent proposals", list(reversed(archive.proposals)), self.recent),
            ("## Recent failures", list(reversed(failures)), self.failures),
        ]


def archive_messages(archive: Archive, view: ArchiveView) -> list[dict[str, str]]:
    """The messages of ``"archive"`` mode: the system prompt of ``archive`` and one user
    message with the part of it that ``view`` selects (bounded, unlike a transcript)."""
    return [
        {"role": "system", "content": archive.system_prompt},
        {"role": "user", "content": view.render(archive)},
    ]


def build_messages(mode: str, archive: Archive, view: ArchiveView) -> list[dict[str, str]]:
    """The messages of the next LLM call in ``mode`` (one of :data:`MODES`), built from
    ``archive``; ``view`` is used in ``"archive"`` mode only."""
    if mode == "transcript":
        return transcript_messages(archive)
    if mode == "archive":
        return archive_messages(archive, view)
    raise ValueError(f"unknown feedback mode {mode!r}; the modes are {MODES}")


def _render(entry: Entry, *, with_code: bool) -> str:
    origin = "seed loss" if entry.origin == "seed" else f"generation {entry.generation}"
    lines = [_clip(f"### #{entry.id} {entry.name} ({origin}): {outcome_summary(entry)}", 300)]
    if with_code and entry.thought:
        lines.append(f"Thought: {_clip(entry.thought, _THOUGHT_CHARS)}")
    if with_code and entry.error:
        lines.append(f"Error: {_clip(entry.error, _ERROR_CHARS)}")
    notes = entry.diagnostics.get("notes") or []
    if with_code and notes:
        lines.append(f"Note: {notes[0]}")
    if with_code and entry.code and entry.duplicate_of is None:
        lines.append(f"```python\n{entry.code.rstrip()}\n```")
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."
