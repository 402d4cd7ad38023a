"""The plots of a report, with matplotlib (the ``discovery`` extra), imported when first drawn.

Figures are made with ``matplotlib.figure.Figure`` directly (no pyplot, no GUI backend), so
drawing works in a terminal, a thread or a server. ``svg_data_uri`` turns one into an
``<img>`` source: the report stays one file, and an image cannot run scripts.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from opto.report.archive_files import DiscoveryRun
from opto.report.run_files import TrainingRun
from opto.utils.errors import OptoError

COLORS = {
    "train": "#4c78a8",
    "validation": "#f58518",
    "test": "#54a24b",
    "best": "#e45756",
    "tokens": "#72b7b2",
    "cost": "#b279a2",
    "seed": "#9d755d",
    "invalid": "#bab0ac",
}
WIDTH, HEIGHT = 5.6, 3.2  # inches: two plots side by side in the report
MAX_PARETO_POINTS = 2000  # the front is found in quadratic time


class PlottingUnavailableError(OptoError, ImportError):
    """matplotlib is not installed."""


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise PlottingUnavailableError(
            "plots need matplotlib: pip install 'opto[discovery]' (or pip install matplotlib)"
        ) from error
    return Figure(figsize=(width, height), layout="constrained")


def svg_data_uri(figure: Any) -> str:
    """The figure as an SVG ``data:`` URI (fonts drawn as paths, no date: reproducible)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _running_max(values: list[float | None]) -> list[float | None]:
    best: float | None = None
    out = []
    for value in values:
        if value is not None and (best is None or value > best):
            best = value
        out.append(best)
    return out


def _integer_steps(axes: Any) -> None:
    """Whole numbers only on the x axis (steps and generations have no halves)."""
    axes.xaxis.get_major_locator().set_params(integer=True)


def _series(axes: Any, xs: list[int], ys: list[float | None], **style: Any) -> None:
    points = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    if points:
        axes.plot([p[0] for p in points], [p[1] for p in points], **style)


def draw_scores(axes: Any, run: TrainingRun) -> None:
    """Draw on ``axes`` the train, validation and test score of ``run`` per step, the
    current best and the best so far."""
    steps = [row.step for row in run.steps]
    _series(
        axes,
        steps,
        [r.train for r in run.steps],
        label="train (minibatch)",
        color=COLORS["train"],
        marker="o",
        markersize=3,
        linewidth=1,
    )
    _series(
        axes,
        steps,
        [r.validation for r in run.steps],
        label="validation",
        color=COLORS["validation"],
        marker="s",
        markersize=3,
        linewidth=1,
    )
    _series(
        axes,
        steps,
        [r.test for r in run.steps],
        label="test",
        color=COLORS["test"],
        marker="D",
        markersize=5,
        linestyle="none",
    )
    _series(
        axes,
        steps,
        _running_max([r.best for r in run.steps]),
        label="best so far",
        color=COLORS["best"],
        linewidth=2,
        drawstyle="steps-post",
    )
    _integer_steps(axes)
    axes.set_xlabel("step")
    axes.set_ylabel("score")
    axes.set_title("Scores")
    if steps:
        axes.legend(loc="best", fontsize="small")
    axes.grid(alpha=0.3)


def objective_names(run: TrainingRun) -> list[str]:
    """The metric names the steps of ``run`` recorded, in the order they first appear."""
    names: dict[str, None] = {}
    for row in run.steps:
        names.update(dict.fromkeys(row.best_scores))
    return list(names)


def draw_objectives(axes: Any, run: TrainingRun) -> None:
    """Draw on ``axes`` each metric of the current candidate of ``run`` per step
    (multi-objective runs)."""
    steps = [row.step for row in run.steps]
    for name in objective_names(run):
        _series(
            axes,
            steps,
            [r.best_scores.get(name) for r in run.steps],
            label=name,
            marker="o",
            markersize=3,
        )
    _integer_steps(axes)
    axes.set_xlabel("step")
    axes.set_title("Objectives of the current candidate")
    axes.legend(loc="best", fontsize="small")
    axes.grid(alpha=0.3)


def draw_usage(axes: Any, run: TrainingRun) -> None:
    """Draw on ``axes`` the tokens (left axis) and cost (right axis) ``run`` spent so far,
    per step."""
    steps = [row.step for row in run.steps]
    _series(
        axes,
        steps,
        [float(r.tokens) for r in run.steps],
        color=COLORS["tokens"],
        marker="o",
        markersize=3,
        label="tokens",
    )
    _integer_steps(axes)
    axes.set_xlabel("step")
    axes.set_ylabel("tokens so far", color=COLORS["tokens"])
    axes.set_title("Spending")
    axes.grid(alpha=0.3)
    twin = axes.twinx()
    _series(
        twin,
        steps,
        [r.cost for r in run.steps],
        color=COLORS["cost"],
        marker="s",
        markersize=3,
        label="cost",
    )
    twin.set_ylabel("cost so far ($)", color=COLORS["cost"])


def lineage(run: TrainingRun) -> dict[int, tuple[int | None, int]]:
    """``candidate -> (parent, step created)`` from the proposals and the last pool of
    ``run``."""
    found: dict[int, tuple[int | None, int]] = {0: (None, 0)}
    for proposal in run.proposals:
        if proposal.child is not None:
            found[proposal.child] = (proposal.parent, proposal.step)
    for candidate in run.candidates:
        found.setdefault(candidate.id, (candidate.parent, candidate.step))
    return found


def draw_lineage(axes: Any, run: TrainingRun) -> None:
    """Draw on ``axes`` the candidates of ``run`` by the step they were proposed at, joined
    to their parent; the kept pool
    filled, the current candidate starred."""
    tree = lineage(run)
    kept = {c.id for c in run.candidates}
    for child, (parent, step) in tree.items():
        if parent in tree:
            axes.plot([tree[parent][1], step], [parent, child], color="#999", linewidth=0.8)
    xs = [step for _, step in tree.values()]
    ys = list(tree)
    axes.scatter(
        xs,
        ys,
        s=22,
        facecolors=["#4c78a8" if c in kept else "white" for c in ys],
        edgecolors="#4c78a8",
        zorder=3,
        label="candidate (filled: kept)",
    )
    if run.current in tree:
        axes.scatter(
            [tree[run.current][1]],
            [run.current],
            marker="*",
            s=160,
            color=COLORS["best"],
            zorder=4,
            label="current",
        )
    _integer_steps(axes)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("step proposed")
    axes.set_ylabel("candidate")
    axes.set_title("Candidate lineage")
    axes.legend(loc="upper left", fontsize="small")
    axes.grid(alpha=0.3)


def pareto_front(points: list[tuple[int, float, float]], flip: tuple[bool, bool]) -> set[int]:
    """Ids of the points no other point beats on both metrics (``flip``: metric minimized)."""

    def oriented(p: tuple[int, float, float]) -> tuple[float, float]:
        return (-p[1] if flip[0] else p[1], -p[2] if flip[1] else p[2])

    front = set()
    for point in points:
        a = oriented(point)
        dominated = any(b[0] >= a[0] and b[1] >= a[1] and b != a for b in map(oriented, points))
        if not dominated:
            front.add(point[0])
    return front


def draw_pareto(axes: Any, run: TrainingRun, metrics: tuple[str, str]) -> None:
    """Draw on ``axes`` the kept candidates of ``run`` on the two ``metrics``, the Pareto
    front joined."""
    minimized = set(mapping_list(run.options.get("objective_config"), "minimize"))
    points = [
        (c.id, c.scores[metrics[0]], c.scores[metrics[1]])
        for c in run.candidates
        if metrics[0] in c.scores and metrics[1] in c.scores
    ]
    points = points[:MAX_PARETO_POINTS]
    front = pareto_front(points, (metrics[0] in minimized, metrics[1] in minimized))
    axes.scatter(
        [p[1] for p in points], [p[2] for p in points], color="#bbb", s=25, label="kept candidate"
    )
    on_front = sorted((p for p in points if p[0] in front), key=lambda p: p[1])
    axes.plot(
        [p[1] for p in on_front],
        [p[2] for p in on_front],
        color=COLORS["best"],
        marker="o",
        label="Pareto front",
    )
    for identifier, x, y in points:
        axes.annotate(
            str(identifier), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    axes.set_xlabel(metrics[0] + (" (minimized)" if metrics[0] in minimized else ""))
    axes.set_ylabel(metrics[1] + (" (minimized)" if metrics[1] in minimized else ""))
    axes.set_title("Pareto front of the kept candidates")
    axes.legend(loc="best", fontsize="small")
    axes.grid(alpha=0.3)


def mapping_list(value: Any, key: str) -> list[str]:
    """The list under ``key`` of the dict ``value`` as texts; [] for anything else (run
    files are untrusted)."""
    found = value.get(key) if isinstance(value, dict) else None
    return [str(item) for item in found] if isinstance(found, list) else []


def pareto_metrics(run: TrainingRun) -> tuple[str, str] | None:
    """The first two metrics every kept candidate of ``run`` has, if there are two."""
    shared: list[str] | None = None
    for candidate in run.candidates:
        names = list(candidate.scores)
        shared = names if shared is None else [n for n in shared if n in names]
    return (shared[0], shared[1]) if shared and len(shared) >= 2 else None


def draw_fitness(axes: Any, archive: DiscoveryRun) -> None:
    """Draw on ``axes`` the fitness (mean with sd bars) of each valid entry of ``archive``
    against its generation, seeds apart,
    failed proposals marked at the bottom, and the best so far."""
    valid = [e for e in archive.entries if e.fitness is not None]
    for origin, color, label in (
        ("seed", COLORS["seed"], "seed"),
        ("llm", COLORS["train"], "proposal"),
    ):
        chosen = [e for e in valid if (e.origin == "seed") == (origin == "seed")]
        if chosen:
            axes.errorbar(
                [e.generation for e in chosen],
                [e.fitness for e in chosen],
                yerr=[e.sd or 0.0 for e in chosen],
                fmt="o",
                color=color,
                markersize=4,
                capsize=2,
                label=label,
            )
    failed = [e for e in archive.entries if e.fitness is None]
    if failed and valid:
        floor = min(e.fitness for e in valid)
        axes.scatter(
            [e.generation for e in failed],
            [floor] * len(failed),
            marker="x",
            color=COLORS["invalid"],
            label="not valid",
        )
    ordered = sorted(valid, key=lambda e: (e.generation, e.id))
    _series(
        axes,
        [e.generation for e in ordered],
        _running_max([e.fitness for e in ordered]),
        color=COLORS["best"],
        drawstyle="steps-post",
        label="best so far",
    )
    _integer_steps(axes)
    axes.set_xlabel("generation")
    axes.set_ylabel("fitness")
    axes.set_title("Fitness against generation")
    if archive.entries:
        axes.legend(loc="best", fontsize="small")
    axes.grid(alpha=0.3)


def training_figures(run: TrainingRun) -> dict[str, Any]:
    """The report's figures for a training run, by name (only those with data)."""
    figures: dict[str, Any] = {}
    if run.steps:
        figures["scores"] = _single(draw_scores, run)
        figures["usage"] = _single(draw_usage, run)
        if len(objective_names(run)) > 1:
            figures["objectives"] = _single(draw_objectives, run)
    if len(lineage(run)) > 1:
        figures["lineage"] = _single(draw_lineage, run)
    metrics = pareto_metrics(run)
    if metrics is not None:
        figure = _figure(WIDTH, HEIGHT)
        draw_pareto(figure.add_subplot(), run, metrics)
        figures["pareto"] = figure
    return figures


def _single(draw: Any, data: Any) -> Any:
    figure = _figure(WIDTH, HEIGHT)
    draw(figure.add_subplot(), data)
    return figure


def fitness_figure(archive: DiscoveryRun) -> Any:
    """A figure of the fitness of ``archive``'s entries against generation."""
    return _single(draw_fitness, archive)


def overview_figure(data: TrainingRun | DiscoveryRun) -> Any:
    """One figure of ``data``: scores and spending (and objectives) of a training run, or a
    discovery archive's fitness."""
    if isinstance(data, DiscoveryRun):
        return fitness_figure(data)
    panels = [draw_scores, draw_usage]
    if len(objective_names(data)) > 1:
        panels.insert(1, draw_objectives)
    figure = _figure(WIDTH, HEIGHT * len(panels))
    for position, draw in enumerate(panels, start=1):
        draw(figure.add_subplot(len(panels), 1, position), data)
    return figure
