"""The HTML report: self-contained, escaped, every section present; plots and graphs."""

from __future__ import annotations

import base64
import html
import re
import sys
import xml.etree.ElementTree as ET

import pytest
from report_toys import HOSTILE

from opto.report import graphs as graphs_module
from opto.report import plot_run, read, render_report, write_report
from opto.report.diffs import diff_html
from opto.report.graphs import GraphDrawer, GraphUnavailableError, dot_source, graph_svg_uri
from opto.report.html_page import SCRIPT, _script_hash
from opto.report.plots import pareto_front
from opto.report.run_files import GraphView

TRAINING_SECTIONS = [
    "overview",
    "scores",
    "spending",
    "search",
    "steps",
    "configuration",
    "budget",
    "best-model",
]


def images(document: str) -> list[bytes]:
    uris = re.findall(r'<img[^>]* src="([^"]*)"', document)
    assert all(u.startswith("data:image/svg+xml;base64,") for u in uris), uris
    return [base64.b64decode(u.split(",", 1)[1]) for u in uris]


def assert_self_contained_and_escaped(document: str) -> None:
    assert re.findall(r'(?:src|href)="(?!data:|#)', document) == []  # nothing to fetch
    assert "url(" not in document and "@import" not in document
    assert document.count("<script") == 1  # ours, and no other
    policy = html.unescape(re.search(r'Content-Security-Policy" content="([^"]*)"', document)[1])
    assert f"script-src '{_script_hash()}'" in policy and "default-src 'none'" in policy
    assert f"<script>{SCRIPT}</script>" in document
    assert HOSTILE not in document
    assert "&lt;script&gt;alert(&quot;run file&quot;)&lt;/script&gt;" in document
    assert "<img src=x" not in document


def test_a_training_report_has_every_section_and_holds_everything_it_shows(beam_run):
    path = write_report(beam_run)
    assert path == beam_run / "report.html"
    document = path.read_text()
    found = re.findall(r'<section id="([^"]+)">', document)
    assert found == TRAINING_SECTIONS
    assert_self_contained_and_escaped(document)
    for text in (
        "#Variables",
        "Parsed suggestion",
        "refused: offset0",
        "unknown names",
        "expected an int, got the text",
        "temperature",
        "offset: before → after",
        'alt="scores"',
        'alt="objectives"',
        'alt="usage"',
        'alt="lineage"',
        'alt="pareto"',
        'alt="trace graph of step 3"',
        "Candidates kept at the last",
    ):
        assert text in document, text
    assert '<span class="del">-0</span><span class="add">+1</span>' in document


def test_plots_and_graphs_are_well_formed_svg_without_scripts_or_file_references(beam_run):
    document = write_report(beam_run).read_text()
    pictures = images(document)
    assert len(pictures) >= 6  # scores, objectives, spending, lineage, Pareto, a trace graph
    for svg in pictures:
        tree = ET.fromstring(svg)
        tags = {element.tag.rsplit("}", 1)[-1] for element in tree.iter()}
        assert "script" not in tags and "foreignObject" not in tags
        for element in tree.iter():
            for name, value in element.attrib.items():
                if name.endswith("href"):
                    assert value.startswith("#"), value  # only references inside the SVG


def test_the_latest_steps_trace_graph_shows_the_hostile_value_as_text(beam_run):
    run = read(beam_run)
    graph = next(p.graph for p in reversed(run.proposals) if p.graph)
    svg = base64.b64decode(graph_svg_uri(graph).split(",", 1)[1]).decode()
    assert "<svg" in svg and "<script" not in svg


def test_graph_labels_cannot_become_markup_attributes_or_escapes(tmp_path):
    nasty = [
        'a" -> b [label="x"]; c [image="/etc/passwd"',
        "<<b>html label</b>>",
        "\\N \\G \\L \\",
        "line\nbreak",
    ]
    graph = GraphView(
        nodes=[{"name": n, "kind": "value", "description": n, "value": n} for n in nasty],
        edges=[(nasty[0], nasty[1])],
    )
    source = dot_source(graph)
    assert "label=<" not in source  # never an HTML-like label
    assert re.findall(r"\bimage=", source.replace('image=\\"', "")) == []  # only in a label
    svg = base64.b64decode(graph_svg_uri(graph).split(",", 1)[1]).decode()
    assert "&lt;&lt;b&gt;html label&lt;/b&gt;&gt;" in svg
    assert "\\N \\G \\L \\" in svg  # shown literally, not replaced by node or graph names
    assert "/etc/passwd" in svg and "<image" not in svg


def test_without_dot_the_report_says_why_there_is_no_graph(beam_run, monkeypatch):
    monkeypatch.setattr(graphs_module.shutil, "which", lambda name: None)
    with pytest.raises(GraphUnavailableError, match="dot program is not installed"):
        graph_svg_uri(read(beam_run).proposals[0].graph)
    document = render_report(read(beam_run))
    assert "graph not drawn: Graphviz&#x27;s dot program is not installed" in document


def test_graphs_can_be_left_out(beam_run):
    document = render_report(read(beam_run), graphs=False)
    assert "Trace graph" not in document


def test_without_matplotlib_the_report_is_written_with_a_note(beam_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    document = write_report(beam_run).read_text()
    assert "plots need matplotlib: pip install" in document
    assert re.findall(r'<section id="([^"]+)">', document) == TRAINING_SECTIONS


def test_plot_run_returns_a_matplotlib_figure(beam_run, archive_file):
    figure = plot_run(beam_run)
    titles = [axes.get_title() for axes in figure.axes if axes.get_title()]
    assert titles == ["Scores", "Objectives of the current candidate", "Spending"]
    scores = figure.axes[0]
    labels = [line.get_label() for line in scores.get_lines()]
    assert labels == ["train (minibatch)", "validation", "test", "best so far"]
    assert list(scores.get_lines()[3].get_ydata()) == sorted(scores.get_lines()[3].get_ydata())
    assert [a.get_title() for a in plot_run(archive_file).axes] == ["Fitness against generation"]


def test_a_discovery_report_has_a_sortable_table_code_and_fitness(archive_file):
    path = write_report(archive_file)
    assert path == archive_file.with_suffix(".html")
    document = path.read_text()
    assert re.findall(r'<section id="([^"]+)">', document) == [
        "overview",
        "settings",
        "fitness",
        "entries",
        "code",
    ]
    assert_self_contained_and_escaped(document)
    assert '<table class="data sortable" id="entry-table">' in document
    assert 'data-key="fitness"' in document and 'data-sort="0.47"' in document
    assert "def best_one(a, b, c, d, beta):" in document
    assert len(images(document)) == 1


def test_diffs_mark_removed_and_added_lines():
    html = diff_html("line one\nline two\n", "line one\nline 2\n")
    assert '<span class="del">-line two</span>' in html
    assert '<span class="add">+line 2</span>' in html
    assert diff_html({"k": 1}, {"k": 2}).count('class="add"') == 1
    assert "&lt;b&gt;" in diff_html("<b>", "<i>")


def test_the_pareto_front_keeps_the_points_nothing_beats():
    points = [(1, 1.0, 0.0), (2, 0.0, 1.0), (3, 0.5, 0.5), (4, 0.4, 0.4), (5, 1.0, 0.0)]
    assert pareto_front(points, (False, False)) == {1, 2, 3, 5}
    assert pareto_front(points, (False, True)) == {1, 5}  # the second metric minimized


def test_a_report_spends_a_bounded_time_drawing_graphs(beam_run):
    graph = read(beam_run).proposals[0].graph
    assert GraphDrawer(total_seconds=60).svg_uri(graph).startswith("data:image/svg+xml")
    with pytest.raises(GraphUnavailableError, match="may spend drawing graphs ran out"):
        GraphDrawer(total_seconds=0).svg_uri(graph)
