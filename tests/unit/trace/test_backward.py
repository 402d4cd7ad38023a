import pytest

from opto.trace import GRAPH, Graph, MessageNode, node
from opto.trace.errors import BackwardError, PropagationError
from opto.trace.propagators import GraphPropagator, Propagator, SumPropagator, TraceGraph


def names(graph: TraceGraph) -> list[str]:
    return [n.name for _, n in graph.graph]


def total_graph(*params) -> TraceGraph:
    propagator = GraphPropagator()
    return sum((propagator.aggregate(p.feedback) for p in params), TraceGraph())


def test_parameter_receives_the_subgraph_to_the_output():
    x = node(1.0)
    p = node(2.0, trainable=True)
    y = x + p
    z = y * 3 - p
    w = z + x * 2
    w.backward("make it larger")
    assert set(p.feedback) == {y, z}
    graph = total_graph(p)
    assert set(names(graph)) == {
        "float:0",
        "float:1",
        "int:0",
        "add:0",
        "multiply:0",
        "subtract:0",
        "multiply:1",
        "add:1",
    }
    assert graph.user_feedback == "make it larger"
    levels = [level for level, _ in graph.graph]
    assert levels == sorted(levels)


def test_constants_and_parameter_free_branches_get_no_feedback():
    p = node(1, trainable=True)
    c = node(5)
    side = c * 2
    out = p + side
    out.backward("fb")
    assert dict(c.feedback) == {} and dict(side.feedback) == {}
    assert set(p.feedback) == {out}
    assert "multiply:0" in names(total_graph(p)), "parameter-free parents still appear as inputs"


def test_message_nodes_have_no_feedback_after_backward():
    p = node(1, trainable=True)
    y = p + 1
    z = y + 1
    z.backward("fb")
    assert dict(y.feedback) == {} and dict(z.feedback) == {}


def test_backward_twice_raises_clear_error_and_changes_nothing():
    p = node(1, trainable=True)
    y = p + 1
    out = y * 2
    out.backward("first")
    before = dict(p.feedback)
    with pytest.raises(BackwardError, match="retain_graph=True") as caught:
        (y + 5).backward("second")
    assert isinstance(caught.value, AttributeError), "Trace raised AttributeError here"
    assert dict(p.feedback) == before


def test_retain_graph_allows_a_second_backward():
    p = node(1, trainable=True)
    y = p * 2
    y.backward("one", retain_graph=True)
    y.backward("two")
    assert len(p.feedback[y]) == 2
    assert total_graph(p).user_feedback == "y0: one\ny0: two".replace("y0", y.py_name)


def test_feedback_on_several_outputs_is_aggregated_per_output():
    p = node(3, trainable=True)
    shared = p + 1
    a = shared * 2
    b = shared - 1
    a.backward("a is too big", retain_graph=True)
    b.backward("b is fine", retain_graph=True)
    graph = total_graph(p)
    assert graph.feedbacks == [(a, "a is too big"), (b, "b is fine")]
    assert graph.user_feedback == f"{a.py_name}: a is too big\n{b.py_name}: b is fine"
    assert set(graph.outputs) == {a, b}
    assert {a, b, shared, p} <= set(graph.nodes)


def test_same_feedback_on_several_outputs_is_not_repeated():
    p = node(3, trainable=True)
    a, b = p + 1, p + 2
    a.backward("wrong")
    b.backward("wrong")
    assert total_graph(p).user_feedback == "wrong"


def test_explicit_trace_graphs_combine_like_trace():
    a, b = node(1), node(2)
    first = TraceGraph([(0, a)], user_feedback="fb")
    second = TraceGraph([(0, b)], user_feedback=None)
    merged = first + second
    assert merged.user_feedback == "fb" and [n for _, n in merged.graph] == [a, b]
    assert sum([first, second]).user_feedback == "fb"
    conflicting = first + TraceGraph([(0, b)], user_feedback="other")
    assert conflicting.user_feedback == "fb\nother"


def test_backward_order_is_reverse_topological_and_deterministic():
    class Recorder(GraphPropagator):
        def __init__(self):
            super().__init__()
            self.order = []

        def _propagate(self, child):
            self.order.append(child.name)
            return super()._propagate(child)

    def build():
        p = node(1, trainable=True)
        left, right = p + 1, p * 2
        top = left + right
        return p, top, left, right

    orders = []
    for _ in range(2):
        GRAPH.clear()
        p, top, left, right = build()
        recorder = Recorder()
        top.backward("fb", propagator=recorder)
        orders.append(recorder.order)
        assert recorder.order[0] == top.name
        assert set(recorder.order[1:]) == {left.name, right.name}
        assert set(p.feedback) == {left, right}
    assert orders[0] == orders[1]


def test_each_node_is_propagated_once_on_dense_graphs():
    calls = []

    class Counter(GraphPropagator):
        def _propagate(self, child):
            calls.append(child)
            return super()._propagate(child)

    p = node(1, trainable=True)
    a, b = p + 1, p + 2
    for _ in range(200):  # a ladder: every rung has two paths to the output
        a, b = a + b, a * b % 97
    out = a + b
    out.backward("fb", propagator=Counter())
    assert len(calls) == len({id(c) for c in calls}) == 2 + 3 * 200 + 1


def test_chain_graph_is_complete_and_linear_in_size():
    p = node(0, trainable=True)
    y = p
    for _ in range(3000):
        y = y + 1
    y.backward("fb")
    graph = total_graph(p)
    assert len(graph.graph) == 2 * 3000 + 1
    assert graph.graph[0][1] is p and graph.graph[-1][1] is y


def test_backward_on_a_root_keeps_feedback_on_it():
    p = node(1, trainable=True)
    p.backward("directly on the parameter")
    p.backward("again")
    assert len(total_graph(p).feedbacks) == 2


def test_sum_propagator_through_backward():
    p = node(1, trainable=True)
    y = p + 1
    out = y + y * 2
    out.backward(1.5, propagator=SumPropagator())
    assert sum(v for vs in p.feedback.values() for v in vs) == 3.0
    q = node("a", trainable=True)
    s = q + "b"
    s.backward("fix", propagator=SumPropagator())
    assert dict(q.feedback) == {s: ["fix"]}


def test_sum_propagator_refuses_mixed_text_and_numbers():
    propagator = SumPropagator()
    with pytest.raises(PropagationError, match="cannot add"):
        propagator.aggregate({node(1): ["text", 2]})


def test_propagator_overrides_by_operator_name():
    propagator = SumPropagator()
    propagator.register(
        "multiply", lambda child: {parent: "from multiply" for parent in child.parents}
    )
    p = node(2, trainable=True)
    out = p * 3
    out.backward("ignored", propagator=propagator)
    assert p.feedback[out] == ["from multiply"]


def test_propagator_missing_a_parent_is_a_typed_error():
    class Broken(Propagator):
        def init_feedback(self, node, feedback):
            return feedback

        def _propagate(self, child):
            return {}

    p = node(1, trainable=True)
    with pytest.raises(PropagationError, match="every parent"):
        (p + 1).backward("fb", propagator=Broken())


def test_hidden_dependencies_receive_feedback():
    hidden = node("secret prompt", trainable=True)
    visible = node("question")
    out = MessageNode("answer", inputs={"q": visible}, description="[agent] answers")
    out._set_hidden_dependencies([hidden])
    out.backward("wrong answer")
    assert set(hidden.feedback) == {out}
    assert total_graph(hidden).user_feedback == "wrong answer"


def test_allow_nested_graphs_walks_parameter_free_branches(monkeypatch):
    monkeypatch.setattr(Graph, "ALLOW_NESTED_GRAPHS", True)
    c = node(5)
    side = c * 2
    out = side + 1
    out.backward("fb")
    assert set(side.feedback) == set() and set(c.feedback) == {side}


def test_default_propagation_equals_the_generic_walk():
    """GraphPropagator's direct computation gives what the step-by-step walk gives."""
    import random

    class StepByStep(GraphPropagator):
        """A subclass, so backward takes the generic path."""

    for seed in range(20):
        results = []
        for propagator in (GraphPropagator(), StepByStep()):
            rng = random.Random(seed)
            GRAPH.clear()
            params = [node(i, trainable=True) for i in range(4)]
            pool = [*params, node(7)]
            for _ in range(30):
                a, b = rng.choice(pool), rng.choice(pool)
                pool.append(a + b if rng.random() < 0.5 else a * b)
            hidden = MessageNode(0, inputs=[pool[-1]], description="[h] uses a parameter")
            hidden._set_hidden_dependencies([params[0]])
            pool[-1].backward("first", propagator=propagator, retain_graph=True)
            (hidden + pool[-2]).backward("second", propagator=propagator)
            summary = []
            for p in params:
                received = {child.name: len(v) for child, v in p.feedback.items()}
                graph = propagator.aggregate(p.feedback) if p.feedback else TraceGraph()
                summary.append((received, names(graph), graph.user_feedback))
            results.append(summary)
        assert results[0] == results[1], seed


def test_union_of_many_graphs_equals_folding_plus():
    parameter = node("p", trainable=True)
    total = parameter + "0"
    for index in range(1, 5):
        total = total + (parameter + str(index))
    total.backward("shorter")
    received = [graph for graphs in parameter.feedback.values() for graph in graphs]
    assert len(received) == 5
    folded = received[0]
    for graph in received[1:]:
        folded = folded + graph
    union = TraceGraph.union(received)
    assert names(union) == names(folded)
    assert union.user_feedback == folded.user_feedback == "shorter"
    with pytest.raises(TypeError, match="expected TraceGraph"):
        TraceGraph.union([union, "text"])
