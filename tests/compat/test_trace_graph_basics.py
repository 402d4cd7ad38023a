"""A Trace user's first program: nodes, operators, broadcasting over containers, attribute
access and calls on nodes, iteration, and drawing the graph. Written as a user writes it,
importing only what Trace documents."""

from opto import trace
from opto.trace import NodeContainer, apply_op, node
from opto.trace import operators as ops
from opto.trace.nodes import Node


class Pair(NodeContainer):
    def __init__(self, left, right):
        self.left = node(left)
        self.right = right  # a plain attribute, not a node


def test_broadcasting_adds_nodes_and_keeps_plain_values_of_the_template():
    prices = [node(3), node(5), 100]
    taxes = [node(1), node(2), 7]
    totals = apply_op(ops.add, prices, prices, taxes)
    assert totals is prices  # the template is filled in, as in Trace
    assert [totals[0].data, totals[1].data, totals[2]] == [4, 7, 100]

    stock = {"apples": node(2), "note": "fresh"}
    restock = {"apples": node(10), "note": "ignored"}
    apply_op(ops.add, stock, stock, restock)
    assert stock["apples"].data == 12 and stock["note"] == "fresh"

    first, second = Pair("ab", 1), Pair("cd", 2)
    joined = apply_op(ops.add, first, first, second)
    assert joined is first and joined.left.data == "abcd" and joined.right == 1

    bonus = node(100)  # a node broadcasts to every element
    assert [t.data for t in apply_op(ops.add, [0, 0], [node(1), node(2)], bonus)] == [101, 102]
    pair = apply_op(ops.add, (0, 0), (node(1), node(2)), (node(10), node(20)))
    assert isinstance(pair, tuple) and [p.data for p in pair] == [11, 22]


def test_getattr_of_an_attribute_that_is_a_node_gives_its_data():
    class Agent:
        def __init__(self):
            self.threshold = node(10, trainable=True)
            self.label = "agent"

    agent = node(Agent())
    threshold = agent.getattr("threshold")
    assert threshold.data == 10  # not the Node object
    assert agent.getattr("label").data == "agent"
    # the parameter behind the attribute still receives feedback
    threshold.backward("too high")
    assert agent.data.threshold.feedback


def test_call_passes_the_arguments_as_nodes():
    class Echo:
        def shout(self, text):
            self.received = text
            return text

    echo = node(Echo())
    said = echo.call("shout", "hello world")
    assert isinstance(echo.data.received, Node)  # Trace hands the method the node
    assert echo.data.received.data == "hello world"
    assert said.data == "hello world"
    upper = node("quiet").call("upper")  # no arguments: the plain method call
    assert upper.data == "QUIET" and upper.op_name == "call"

    double = node(lambda x: x * 2)
    doubled = double(node(21))
    assert doubled.data == 42


def test_iterating_a_node_yields_traced_items():
    words = node(["a", "b"])
    items = list(words)
    assert [w.data for w in items] == ["a", "b"]
    assert all(words in w.parents for w in items)
    scores = node({"x": 1, "y": 2})
    assert [k.data for k in scores] == ["x", "y"]
    assert [(k.data, v.data) for k, v in scores.items()] == [("x", 1), ("y", 2)]
    with trace.stop_tracing():
        assert [w.data for w in words] == ["a", "b"]  # works without tracing too


def test_drawing_a_graph_without_parameters_draws_all_of_it():
    x = node(1, name="node_x")
    y = node(2, name="node_y")
    final = (x + y) + (x + 1)
    drawing = final.backward(visualize=True)
    edges = {line.strip() for line in drawing.source.splitlines() if "->" in line}
    assert edges == {
        "node_x0 -> add0",
        "node_y0 -> add0",
        "node_x0 -> add1",
        "int0 -> add1",
        "add0 -> add2",
        "add1 -> add2",
    }


def test_drawing_shows_branches_that_get_no_feedback():
    weight = node(2, trainable=True, name="weight")
    offset = node(5, name="offset")
    total = (weight * 3) + (offset + 1)
    source = total.backward("make it 20", visualize=True).source
    assert "offset0 -> add0" in source and "weight0 -> multiply0" in source
    assert weight.feedback and not offset.feedback
