"""The report of a discovery archive: overview, settings, fitness plot, entries and their code."""

from __future__ import annotations

from opto.report.archive_files import DiscoveryRun, EntryRow
from opto.report.html_page import (
    Column,
    Html,
    data_table,
    details,
    image,
    note,
    pairs_table,
    pre,
)
from opto.report.plots import PlottingUnavailableError, fitness_figure, svg_data_uri
from opto.report.values import pretty
from opto.utils.display import format_cost, format_count, format_score


def overview_rows(archive: DiscoveryRun) -> list[tuple[str, str]]:
    """What ``opto show`` prints for an archive and the report's first section holds."""
    best = archive.best
    usage = archive.usage
    counts = ", ".join(f"{status} {count}" for status, count in sorted(archive.counts().items()))
    return [
        ("entries", f"{len(archive.entries)} ({counts or 'none'})"),
        ("generations", str(archive.generations)),
        (
            "best",
            f"#{best.id} {best.name}: fitness {format_score(best.fitness)}"
            if best
            else "no valid entry yet",
        ),
        ("calls", format_count(usage.get("calls", 0))),
        (
            "tokens",
            f"{format_count(usage.get('tokens', 0))} "
            f"({format_count(usage.get('prompt_tokens', 0))} prompt, "
            f"{format_count(usage.get('completion_tokens', 0))} completion)",
        ),
        ("cost", format_cost(usage.get("cost"))),
    ]


def build_sections(archive: DiscoveryRun) -> list[tuple[str, str, Html]]:
    """``(id, title, body)`` of every section of the report on ``archive``."""
    return [
        ("overview", "Overview", pairs_table(overview_rows(archive))),
        (
            "settings",
            "Settings",
            pairs_table(
                [
                    (k, pre(pretty(v)) if isinstance(v, (dict, list)) else pretty(v))
                    for k, v in archive.settings.items()
                ]
            ),
        ),
        ("fitness", "Fitness against generation", _fitness(archive)),
        ("entries", "Entries", _entries(archive)),
        ("code", "Code of each entry", _code(archive)),
    ]


def _fitness(archive: DiscoveryRun) -> Html:
    try:
        return image(svg_data_uri(fitness_figure(archive)), "fitness against generation")
    except PlottingUnavailableError as error:
        return note(str(error))


def _entries(archive: DiscoveryRun) -> Html:
    columns = [
        Column(t, k)
        for t, k in (
            ("id", "id"),
            ("generation", "generation"),
            ("name", "name"),
            ("status", "status"),
            ("fitness", "fitness"),
            ("sd", "sd"),
            ("tokens", "tokens"),
            ("seconds", "seconds"),
            ("note", "note"),
        )
    ]
    rows = []
    for e in archive.entries:
        tokens = e.usage.get("prompt_tokens", 0) + e.usage.get("completion_tokens", 0)
        rows.append(
            [
                (Html(f'<a href="#entry-{e.id}">#{e.id}</a>'), str(e.id)),
                ("seed" if e.origin == "seed" else str(e.generation), str(e.generation)),
                (e.name, e.name),
                (e.status, e.status),
                (format_score(e.fitness), "" if e.fitness is None else repr(e.fitness)),
                (format_score(e.sd), "" if e.sd is None else repr(e.sd)),
                (format_count(tokens) if e.usage else "-", repr(tokens) if e.usage else ""),
                (
                    f"{e.seconds:.2f}" if e.seconds is not None else "-",
                    "" if e.seconds is None else repr(e.seconds),
                ),
                (_note(e), ""),
            ]
        )
    hint = Html(
        "<p>Click a column title to sort; <code>#sort=fitness-desc</code> in the "
        "address opens the table sorted.</p>"
    )
    return Html(hint + data_table(columns, rows, sortable=True, table_id="entry-table"))


def _note(entry: EntryRow) -> str:
    if entry.duplicate_of is not None:
        return f"same code as #{entry.duplicate_of}"
    text = " ".join(entry.error.split())
    return text if len(text) <= 160 else text[:157] + "..."


def _code(archive: DiscoveryRun) -> Html:
    parts = []
    for e in archive.entries:
        body = [pairs_table([("status", e.status), ("fitness", format_score(e.fitness))])]
        if e.metrics:
            body.append(details("Metrics", pre(pretty(e.metrics))))
        if e.thought:
            body.append("<h3>Thought</h3>" + pre(e.thought))
        body.append("<h3>Code</h3>" + pre(e.code))
        if e.error:
            body.append("<h3>Error</h3>" + pre(e.error))
        if e.feedback:
            body.append(details("Feedback sent back", pre(e.feedback)))
        title = f"#{e.id} {e.name} ({e.status})"
        parts.append(f'<div id="entry-{e.id}">' + details(title, Html("".join(body))) + "</div>")
    return Html("".join(parts)) if parts else note("the archive has no entries")
