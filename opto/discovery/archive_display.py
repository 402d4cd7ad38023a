"""How a discovery ``Archive`` shows itself: its size, outcome counts, best entry and usage."""

from __future__ import annotations

from typing import Any

from opto.utils.display import format_cost, format_count, format_score, html_block, shorten

TOP_ENTRIES = 10


def _rows(archive: Any) -> list[tuple[str, str]]:
    counts = ", ".join(f"{status} {n}" for status, n in sorted(archive.counts().items()))
    best = archive.best()
    usage = archive.usage()
    tokens = usage["prompt_tokens"] + usage["completion_tokens"]
    return [
        ("path", str(archive.path)),
        ("entries", f"{len(archive.entries)} ({counts or 'none'})"),
        ("generations", str(archive.generations)),
        ("best", f"#{best.id} {best.name} ({format_score(best.fitness_mean)})" if best else "-"),
        ("calls", format_count(usage["calls"])),
        ("tokens", format_count(tokens)),
        ("cost", format_cost(usage["cost"])),
    ]


def archive_repr(archive: Any) -> str:
    """``Archive('path', 12 entries: valid 9, invalid 3; best #4 name (0.812))``; an archive
    whose entries hold values of the wrong type still gets a repr (path and size)."""
    try:
        return _summary(archive)
    except (TypeError, ValueError, KeyError, AttributeError):
        return f"Archive({str(archive.path)!r}, {len(archive.entries)} entries)"


def _summary(archive: Any) -> str:
    counts = ", ".join(f"{status} {n}" for status, n in sorted(archive.counts().items()))
    best = archive.best()
    shown = f"; best #{best.id} {shorten(best.name, 40)} ({format_score(best.fitness_mean)})"
    return (
        f"Archive({str(archive.path)!r}, {len(archive.entries)} entries"
        f"{': ' + counts if counts else ''}{shown if best else ''})"
    )


def archive_html(archive: Any) -> str:
    """``archive`` as HTML for notebooks: the summary and the ``TOP_ENTRIES`` best entries."""
    try:
        return _html(archive)
    except (TypeError, ValueError, KeyError, AttributeError):
        return html_block("Discovery archive", [("entries", str(len(archive.entries)))])


def _html(archive: Any) -> str:
    body = [
        [f"#{e.id}", str(e.generation), shorten(e.name, 40), format_score(e.fitness_mean)]
        for e in archive.ranked()[:TOP_ENTRIES]
    ]
    return html_block(
        "Discovery archive", _rows(archive), (["entry", "generation", "name", "fitness"], body)
    )
