import shutil
from pathlib import Path

import graphviz
import pytest

from opto.trace import ExecutionError, node
from opto.trace.errors import GraphvizNotFoundError
from opto.trace.nodes import NodeVizStyleGuide, NodeVizStyleGuideColorful
from opto.trace.viz import draw_nodes


def node_lines(digraph: graphviz.Digraph) -> dict[str, str]:
    lines = {}
    for line in digraph.body:
        stripped = line.strip()
        if "->" not in stripped and "[" in stripped:
            lines[stripped.split(" ", 1)[0]] = stripped
    return lines


def test_backward_visualize_returns_a_styled_digraph():
    p = node(2.0, trainable=True, name="weight")
    x = node(3.0, name="x")
    out = p * x
    digraph = out.backward("fb", visualize=True)
    assert isinstance(digraph, graphviz.Digraph)
    lines = node_lines(digraph)
    assert set(lines) == {"weight0", "x0", "multiply0"}
    assert "shape=box" in lines["weight0"] and 'fillcolor="#FFE5E5"' in lines["weight0"]
    assert 'color="#FF7E79"' in lines["weight0"]
    assert "shape=ellipse" in lines["multiply0"] and 'fillcolor="#DEEBF6"' in lines["multiply0"]
    assert 'style="filled,solid"' in lines["x0"] and "penwidth=1.2" in lines["x0"]
    assert "weight0 -> multiply0" in digraph.source and "x0 -> multiply0" in digraph.source
    assert "6.0" in lines["multiply0"] and "[multiply]" in lines["multiply0"]


def test_backward_without_visualize_returns_none():
    assert (node(1, trainable=True) + 1).backward("fb") is None


def test_error_nodes_are_red():
    p = node("text", trainable=True)
    with pytest.raises(ExecutionError) as caught:
        p - 1
    digraph = caught.value.exception_node.backward("fix the type", visualize=True)
    line = node_lines(digraph)["exception_subtract0"]
    assert "firebrick1" in line and "color=black" in line


def test_print_limit_truncates_description_and_data():
    p = node("x" * 500, trainable=True, description="d" * 300)
    label = NodeVizStyleGuideColorful(print_limit=20).get_label(p)
    name, description, data = label.split("\\n")
    assert name == p.py_name
    assert description == ("[ParameterNode] " + "d" * 300)[:20] + "..."
    assert data == "x" * 20 + "..."


def test_dict_data_shows_content_and_labels_are_escaped():
    message = node({"role": "user", "content": 'say "hi"\\now'})
    label = NodeVizStyleGuide().get_label(message)
    assert label.endswith('say "hi"\\\\now') and "role" not in label
    source = draw_nodes([message]).source
    assert '\\"hi\\"' in source


def test_default_style_guide_shapes():
    style = NodeVizStyleGuide()
    assert style.get_node_shape(node(1, trainable=True)) == "box"
    assert style.get_node_shape(node(1)) == "ellipse"


def test_simple_visualization_collapses_identity_and_clone_chains():
    p = node(1, trainable=True, name="p")
    out = p.clone().clone() + 1
    simple = out.backward("fb", visualize=True, retain_graph=True)
    assert "clone" not in simple.source and "p0 -> add0" in simple.source
    full = out.backward("fb", visualize=True, simple_visualization=False)
    assert "p0 -> clone0" in full.source and "clone1 -> add0" in full.source


def test_reverse_plot_flips_edges():
    p = node(1, trainable=True, name="p")
    digraph = (p + 1).backward("fb", visualize=True, reverse_plot=True)
    assert "add0 -> p0" in digraph.source and "p0 -> add0" not in digraph.source


def test_trace_graph_visualize():
    from opto.trace.propagators import GraphPropagator

    p = node(1, trainable=True, name="p")
    (p * 2 + 1).backward("fb")
    digraph = GraphPropagator().aggregate(p.feedback).visualize()
    assert "p0 -> multiply0" in digraph.source and "multiply0 -> add0" in digraph.source


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot (CI installs it)")
def test_render_to_svg_and_png(tmp_path):
    p = node(1, trainable=True)
    digraph = (p + 1).backward("fb", visualize=True)
    svg = digraph.pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    path = digraph.render(tmp_path / "graph", format="png")
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rendering_without_dot_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    digraph = (node(1, trainable=True) + 1).backward("fb", visualize=True)
    assert "digraph" in digraph.source
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        digraph.pipe(format="svg")
    with pytest.raises(GraphvizNotFoundError, match="brew install graphviz"):
        digraph.render(tmp_path / "g", format="png")
