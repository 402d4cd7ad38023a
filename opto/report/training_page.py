"""The report of a training run: overview, configuration, budget, plots, search, each step."""

from __future__ import annotations

from typing import Any

from opto.report.diffs import changed_parameters, diff_html
from opto.report.graphs import GraphDrawer, GraphUnavailableError
from opto.report.html_page import (
    Column,
    Html,
    data_table,
    details,
    esc,
    image,
    note,
    pairs_table,
    pre,
)
from opto.report.plots import PlottingUnavailableError, svg_data_uri, training_figures
from opto.report.run_files import ProposalRow, StepRow, TrainingRun
from opto.report.values import pretty
from opto.utils.display import format_cost, format_count, format_score, shorten

MAX_GRAPHS = 60
"""Trace graphs drawn per report (``dot`` takes a moment each); the latest steps first."""


def overview_rows(run: TrainingRun) -> list[tuple[str, str]]:
    """``(label, value)`` rows about ``run``: what ``opto show`` prints and the report's
    first section holds."""
    last = run.steps[-1] if run.steps else None
    total = run.total_steps
    steps = str(last.step if last else run.checkpoint_step or 0) + (f" of {total}" if total else "")
    usage = dict(run.usage)
    if last is not None and not usage:
        usage = {"calls": last.calls, "tokens": last.tokens, "cost": last.cost}
    tokens = format_count(usage.get("tokens", 0))
    if "prompt_tokens" in usage:
        tokens += (
            f" ({format_count(usage['prompt_tokens'])} prompt, "
            f"{format_count(usage.get('completion_tokens', 0))} completion)"
        )
    rows = [
        ("status", run.status),
        ("algorithm", run.algorithm),
        ("steps", steps),
        ("best score", format_score(run.best_score)),
    ]
    if run.best_score is None and last is not None and last.train is not None:
        rows.append(("last train score", f"{format_score(last.train)} (on its minibatch)"))
    if last is not None and len(last.best_scores) > 1:
        rows.append(
            ("objectives", ", ".join(f"{k} {format_score(v)}" for k, v in last.best_scores.items()))
        )
    tests = [row.test for row in run.steps if row.test is not None]
    if tests:
        rows.append(("last test score", format_score(tests[-1])))
    calls = format_count(usage.get("calls", 0))
    if usage.get("cache_hits"):
        calls += f" (+{format_count(usage['cache_hits'])} from the cache)"
    rows += [("calls", calls), ("tokens", tokens), ("cost", format_cost(usage.get("cost")))]
    if run.elapsed is not None:
        rows.append(("time", f"{run.elapsed:.1f} s"))
    if run.stop_reason and run.stop_reason != "completed":
        rows.append(("stop reason", run.stop_reason))
    rows.append(("best model", str(run.best_model) if run.best_model else "not saved yet"))
    return rows


def build_sections(run: TrainingRun, graphs: bool = True) -> list[tuple[str, str, Html]]:
    """``(id, title, body)`` of every section of the report on ``run``; ``graphs=False``
    leaves the trace graphs out."""
    figures, plot_problem = _figures(run)
    overview = pairs_table(overview_rows(run))
    if run.problems:
        overview = Html(overview + "".join(note(p) for p in run.problems))
    sections = [
        ("overview", "Overview", overview),
        ("scores", "Scores", _plots(figures, ("scores", "objectives"), plot_problem)),
        (
            "spending",
            "Cost and tokens",
            Html(_plots(figures, ("usage",), plot_problem) + _step_table(run)),
        ),
        ("search", "Search", _search(run, figures, plot_problem)),
        ("steps", "Steps", _steps(run, graphs)),
        ("configuration", "Configuration", _configuration(run)),
        ("budget", "Budget and events", _budget(run)),
        ("best-model", "Best parameters", _best(run)),
    ]
    return sections


def _figures(run: TrainingRun) -> tuple[dict[str, str], str]:
    try:
        return {name: svg_data_uri(f) for name, f in training_figures(run).items()}, ""
    except PlottingUnavailableError as error:
        return {}, str(error)


def _plots(figures: dict[str, str], names: tuple[str, ...], problem: str) -> Html:
    if problem:
        return note(problem)
    shown = [image(figures[name], name) for name in names if name in figures]
    if not shown:
        return note("no steps recorded yet")
    return Html('<div class="plots">' + "".join(shown) + "</div>")


def _configuration(run: TrainingRun) -> Html:
    rows: list[tuple[str, Html | str]] = [("algorithm", run.algorithm)]
    for name, value in run.components.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else pretty(value)
        rows.append((name, shown))
    options = [
        (name, pre(pretty(value)) if isinstance(value, (dict, list)) else pretty(value))
        for name, value in run.options.items()
    ]
    return Html(pairs_table(rows) + "<h3>Options</h3>" + pairs_table(options))


def _budget(run: TrainingRun) -> Html:
    rows = [
        ("max_cost", pretty(run.options.get("max_cost"))),
        ("max_calls", pretty(run.options.get("max_calls"))),
        (
            "spent",
            f"{format_cost(run.usage.get('cost'))} in "
            f"{format_count(run.usage.get('calls', 0))} calls",
        ),
        ("status", run.status),
    ]
    events = data_table(
        [Column("step", "step"), Column("event", "event"), Column("message", "message")],
        [
            [
                (
                    "-" if e["step"] is None else str(e["step"]),
                    "" if e["step"] is None else str(e["step"]),
                ),
                (e["event"], e["event"]),
                (pre(e["message"]) if "\n" in e["message"] else e["message"], ""),
            ]
            for e in run.events
            if e["event"] != "checkpoint"
        ],
    )
    return Html(pairs_table(rows) + "<h3>Events</h3>" + events)


def _step_table(run: TrainingRun) -> Html:
    def number_cell(value: Any, shown: str) -> tuple[str, str]:
        return shown, "" if value is None else repr(value)

    rows = [
        [
            number_cell(r.step, str(r.step)),
            number_cell(r.epoch, str(r.epoch) if r.epoch is not None else "-"),
            number_cell(r.train, format_score(r.train)),
            number_cell(r.validation, format_score(r.validation)),
            number_cell(r.best, format_score(r.best)),
            number_cell(r.test, format_score(r.test)),
            number_cell(r.calls, format_count(r.calls)),
            number_cell(r.tokens, format_count(r.tokens)),
            number_cell(r.cost, format_cost(r.cost)),
            number_cell(r.elapsed, f"{r.elapsed:.1f}" if r.elapsed is not None else "-"),
        ]
        for r in run.steps
    ]
    columns = [
        Column(t, k)
        for t, k in (
            ("step", "step"),
            ("epoch", "epoch"),
            ("train", "train"),
            ("validation", "validation"),
            ("best", "best"),
            ("test", "test"),
            ("calls", "calls"),
            ("tokens", "tokens"),
            ("cost", "cost"),
            ("seconds", "seconds"),
        )
    ]
    return Html(
        "<h3>Per step (totals so far)</h3>"
        + data_table(columns, rows, sortable=True, table_id="step-table")
    )


def _search(run: TrainingRun, figures: dict[str, str], problem: str) -> Html:
    parts = [_plots(figures, ("lineage", "pareto"), problem)] if len(figures) else []
    if not run.candidates:
        return Html("".join(parts) + note("no checkpoint: the kept candidates are not known"))
    metrics: list[str] = []
    for candidate in run.candidates:
        metrics += [m for m in candidate.scores if m not in metrics]
    columns = [
        Column("candidate", "candidate"),
        Column("parent", "parent"),
        Column("step", "step"),
    ] + [Column(m, f"m{i}") for i, m in enumerate(metrics)]
    rows = []
    for c in run.candidates:
        marker = " (current)" if c.id == run.current else ""
        rows.append(
            [
                (f"{c.id}{marker}", str(c.id)),
                ("-" if c.parent is None else str(c.parent), str(c.parent or "")),
                (str(c.step), str(c.step)),
            ]
            + [
                (format_score(c.scores.get(m)), repr(c.scores[m]) if m in c.scores else "")
                for m in metrics
            ]
        )
    parts.append("<h3>Candidates kept at the last checkpoint</h3>")
    parts.append(data_table(columns, rows, sortable=True, table_id="candidate-table"))
    return Html("".join(parts))


def _steps(run: TrainingRun, graphs: bool) -> Html:
    if not run.proposals:
        return note(
            "this run directory records no proposals (proposals.jsonl): it was written by an "
            "older opto, or no step has finished yet"
        )
    by_step: dict[int, list[ProposalRow]] = {}
    for proposal in run.proposals:
        by_step.setdefault(proposal.step, []).append(proposal)
    records = {row.step: row for row in run.steps}
    drawable = sorted(by_step)[-MAX_GRAPHS:] if graphs else []
    drawer = GraphDrawer()
    parts = []
    if graphs and len(by_step) > MAX_GRAPHS:
        parts.append(note(f"trace graphs are drawn for the last {MAX_GRAPHS} steps only"))
    for step in sorted(by_step):
        latest = step == max(by_step)
        chosen = drawer if step in drawable else None
        parts.append(_step(step, records.get(step), by_step[step], chosen, latest))
    return Html("".join(parts))


def _step(
    step: int,
    record: StepRow | None,
    proposals: list[ProposalRow],
    drawer: GraphDrawer | None,
    latest: bool,
) -> Html:
    """A step's proposals; the latest step is shown open, with its trace graph."""
    heading = f"Step {step}"
    if record is not None:
        heading += (
            f" · train {format_score(record.train)} · best {format_score(record.best)}"
            f" · tokens so far {format_count(record.tokens)} · {format_cost(record.cost)}"
        )
    body = "".join(
        _proposal(p, drawer if position == 0 else None, latest)
        for position, p in enumerate(proposals)
    )
    return Html(f'<div id="step-{step}">' + details(heading, Html(body), opened=latest) + "</div>")


def _proposal(proposal: ProposalRow, drawer: GraphDrawer | None, show_graph: bool) -> Html:
    target = (
        f"candidate {proposal.child}"
        if proposal.child is not None
        else "no new candidate (nothing changed, or a candidate already known)"
    )
    title = (
        f"Proposal {proposal.index + 1}: {proposal.optimizer} on candidate "
        f"{proposal.parent} → {target}"
    )
    parts = [f"<h3>{esc(title)}</h3>"]
    call = proposal.call
    if call is not None:
        outcome = []
        if call.applied:
            applied = ", ".join(f"{k} = {shorten(pretty(v), 60)}" for k, v in call.applied.items())
            outcome.append(("applied", Html(f'<span class="applied">{esc(applied)}</span>')))
        for name, reason in call.refused.items():
            outcome.append(
                (f"refused: {name}", Html(f'<span class="refused">{esc(reason)}</span>'))
            )
        if call.unknown:
            outcome.append(("unknown names", ", ".join(call.unknown)))
        if call.error:
            outcome.append(("error", call.error))
        if call.terminated:
            outcome.append(("terminated", "the model answered TERMINATE"))
        if call.usage:
            outcome.append(("usage", ", ".join(f"{k} {v:g}" for k, v in call.usage.items())))
        parts.append(pairs_table(outcome or [("outcome", "nothing suggested")]))
    else:
        parts.append(note("this optimizer keeps no log of its exchanges with the model"))
    after = proposal.after
    if after is None:
        parts.append("<p>Parameter values unchanged.</p>")
    else:
        for name in changed_parameters(proposal.before, after):
            parts.append(f"<h3>{esc(name)}: before → after</h3>")
            parts.append(diff_html(proposal.before.get(name), after.get(name)))
    if call is not None:
        prompt = Html(details("system prompt", pre(call.system_prompt)) + pre(call.user_prompt))
        parts.append(details("Prompt sent", prompt))
        parts.append(details("Reply", pre(call.response)))
        parts.append(details("Parsed suggestion", pre(pretty(call.suggestion))))
    if proposal.graph is not None and drawer is not None:
        parts.append(details("Trace graph", _graph(proposal, drawer), opened=show_graph))
    return Html("".join(parts))


def _graph(proposal: ProposalRow, drawer: GraphDrawer) -> Html:
    try:
        drawing = image(
            drawer.svg_uri(proposal.graph), f"trace graph of step {proposal.step}", "graph"
        )
    except GraphUnavailableError as error:
        return note(f"graph not drawn: {error}")
    omitted = proposal.graph.omitted
    scrolled = Html(f'<div class="scroll">{drawing}</div>')  # a wide graph keeps its size
    return Html(scrolled + (note(f"{omitted} more nodes not recorded") if omitted else ""))


def _best(run: TrainingRun) -> Html:
    if not run.best_parameters:
        return note("no best_model.json in this run directory yet")
    rows = [(name, pre(pretty(value))) for name, value in run.best_parameters.items()]
    return Html(f"<p>From {esc(run.best_model)}</p>" + pairs_table(rows))
