"""Reports of runs: one self-contained HTML file, and the same plots from Python.

    from opto.report import plot_run, write_report
    write_report("runs/exp1")             # runs/exp1/report.html
    write_report("archive.json", "a.html")  # a discovery archive
    figure = plot_run("runs/exp1")        # a matplotlib Figure: scores, objectives, spending

A path that is a directory is a training run directory (``opto.trainer.checkpoint``); a file is
a discovery archive (``opto.discovery.archive``). Run files are read without trusting them:
``RunFileError`` says what is wrong with one. The report needs nothing on the network to open:
style, script and images are inside the file. Plots need matplotlib (the ``discovery`` extra);
without it the report is written with a note instead of the plots.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from opto.report import discovery_page, training_page
from opto.report.archive_files import DiscoveryRun, read_archive
from opto.report.html_page import page
from opto.report.plots import overview_figure
from opto.report.run_files import TrainingRun, read_run
from opto.report.values import RunFileError
from opto.utils.atomic import atomic_write_text

REPORT_NAME = "report.html"


def read(path: str | os.PathLike) -> TrainingRun | DiscoveryRun:
    """A training run (``path`` is a directory) or a discovery archive (a file)."""
    target = Path(path)
    if target.is_file():
        return read_archive(target)
    return read_run(target)


def render_report(data: TrainingRun | DiscoveryRun, graphs: bool = True) -> str:
    """The HTML document for ``data``, what ``read`` returned (a training run or a discovery
    archive); ``graphs=False`` skips trace graphs."""
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(data, DiscoveryRun):
        return page(
            f"Discovery archive {data.path}",
            f"{len(data.entries)} entries · report made {made}",
            discovery_page.build_sections(data),
        )
    return page(
        f"Training run {data.path}",
        f"{data.algorithm} · {data.status} · report made {made}",
        training_page.build_sections(data, graphs=graphs),
    )


def write_report(
    path: str | os.PathLike, output: str | os.PathLike | None = None, graphs: bool = True
) -> Path:
    """Write the report of the run or archive at ``path``; returns the file written.

    ``output`` defaults to ``report.html`` inside a run directory, or the archive's name with
    ``.html``. ``graphs=False`` leaves out the trace graphs (which need Graphviz's ``dot``).
    """
    data = read(path)
    if output is None:
        output = (
            data.path.with_suffix(".html")
            if isinstance(data, DiscoveryRun)
            else data.path / REPORT_NAME
        )
    return atomic_write_text(Path(output), render_report(data, graphs=graphs))


def plot_run(path: str | os.PathLike) -> Any:
    """A matplotlib ``Figure`` of the run directory or archive at ``path``: scores per step (train, validation, test, best so
    far), each objective of a multi-objective run, tokens and cost; for a discovery archive,
    fitness against generation. Needs matplotlib (``pip install 'opto[discovery]'``)."""
    return overview_figure(read(path))


__all__ = [
    "DiscoveryRun",
    "RunFileError",
    "TrainingRun",
    "plot_run",
    "read",
    "render_report",
    "write_report",
]
