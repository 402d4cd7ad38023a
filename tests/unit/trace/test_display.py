"""How nodes and modules show themselves: a module's parameters as PyTorch prints a module,
tables for notebooks with every text escaped, and Trace's text form of a node unchanged."""

from __future__ import annotations

import html

from opto.trace import Module, bundle, model, node
from opto.trace.containers import Seq
from opto.trace.display import HTML_VALUE_CHARS


@model
class Helper:
    def __init__(self):
        self.style = node("<b>bold</b>", trainable=True, name="style")
        self.fixed = node(0.7, trainable=True, name="fixed")
        self.fixed.trainable = False


@model
class Agent:
    def __init__(self):
        self.prompt = node("You are helpful. " * 10, trainable=True, name="prompt")
        self.helper = Helper()
        self.tools = Seq(node("calc", trainable=True, name="tool"))
        self.not_a_parameter = node(3, name="plain")

    @bundle(trainable=True)
    def answer(self, question):
        """Answers."""
        return question


def test_a_module_prints_its_parameters_like_a_pytorch_module():
    text = repr(Agent())
    lines = text.splitlines()
    assert lines[0] == "Agent(" and lines[-1] == ")"
    assert "  (answer): code, trainable = 'def answer(self, question):" in text
    assert "  (helper): Helper(\n    (fixed): float, fixed = 0.7\n" in text
    assert "    (style): str, trainable = '<b>bold</b>'\n  )" in text
    assert "  (tools): Seq(\n    (0): str, trainable = 'calc'\n  )" in text
    prompt_line = next(line for line in lines if line.startswith("  (prompt)"))
    assert prompt_line.startswith("  (prompt): str, trainable = 'You are helpful. You are")
    assert prompt_line.endswith("more characters)") and len(prompt_line) < 130
    assert "plain" not in text  # a plain node is not a parameter


def test_a_module_without_parameters_and_one_half_built():
    class Empty(Module):
        pass

    class HalfBuilt(Module):
        def parameters_dict(self):
            raise RuntimeError("not ready")

    assert repr(Empty()) == "Empty()"
    assert repr(HalfBuilt()).startswith("<") and "HalfBuilt object at" in repr(HalfBuilt())


def test_a_users_own_repr_wins():
    @model
    class Custom:
        def __repr__(self):
            return "Custom!"

    assert repr(Custom()) == "Custom!"


def test_the_module_table_escapes_every_value():
    agent = Agent()
    agent.prompt._set("<script>alert(1)</script>")
    page = agent._repr_html_()
    assert "<script>" not in page
    assert html.escape("<script>alert(1)</script>") in page
    assert "Agent: 5 parameter(s), 4 trainable" in page
    for path in ("answer", "helper.fixed", "helper.style", "prompt", "tools.0"):
        assert f">{path}</th>" in page
    assert page.count("<tr>") == 6  # a header and one row per parameter


def test_node_repr_keeps_traces_text_form():
    x = node(3, name="x")
    assert repr(x) == str(x) == "Node: (x:0, dtype=<class 'int'>, data=3)"
    p = node("hi", trainable=True, name="p")
    assert repr(p) == "ParameterNode: (p:0, dtype=<class 'str'>, data=hi)"


def test_a_node_table_shows_kind_inputs_feedback_and_an_escaped_shortened_value():
    p = node("<i>" + "x" * (HTML_VALUE_CHARS + 50), trainable=True, name="p", description="<d>")
    y = p + "!"
    y.backward("more")
    page = y._repr_html_()
    assert page.startswith('<div style="') and "<strong>MessageNode</strong>" in page
    assert "&lt;i&gt;" in page and "<i>" not in page
    assert "(54 more characters)" in page  # 3 + 50 + the "!"
    assert "x=p:0" in page and ">concat:0<" in page
    parameter_page = p._repr_html_()
    assert "<strong>ParameterNode</strong>" in parameter_page
    assert "&lt;d&gt;" in parameter_page and ">yes<" in parameter_page
    assert "from 1 child node(s)" in parameter_page
