"""Node classes, the name registry, containers and iterators, used the way Trace programs and
Trace-era helper code use them."""

import itertools

import pytest

from opto.trace import ExecutionError, Map, Seq, bundle, node, stop_tracing
from opto.trace.containers import ParameterContainer, trainable_method
from opto.trace.iterators import DictIterable, SeqIterable, iterate
from opto.trace.nodes import (
    GRAPH,
    IDENTITY_OPERATORS,
    NAME_SCOPES,
    AbstractNode,
    ExceptionNode,
    Node,
    ParameterNode,
)
from opto.trace.propagators.graph_propagator import IDENTITY_OPERATORS as FROM_PROPAGATOR


def test_every_node_is_an_abstract_node_which_is_never_made_directly():
    for made in (node(1), node("p", trainable=True), node(1) + 1):
        assert isinstance(made, AbstractNode)
    assert issubclass(ParameterNode, AbstractNode)
    with pytest.raises(TypeError):
        AbstractNode(1)
    wrapped = Node(node(7, name="seven"))  # a node given as the value is unwrapped
    assert wrapped.data == 7 and wrapped.name.startswith("seven:")


def test_lt_and_gt_order_nodes_by_depth():
    a = node(1)
    b = a + 1
    c = b * 2
    assert c.lt(b) and b.lt(a) and not a.lt(b)  # deeper first
    assert a.gt(b) and not c.gt(a)
    deepest_first = sorted([a, c, b], key=lambda n: -n.level)
    assert all(x.lt(y) for x, y in itertools.pairwise(deepest_first))


def test_registering_again_gives_a_new_index_and_scopes_prefix_names():
    b = node(1, name="b")
    assert b.name == "b:0"
    GRAPH.register(b)
    assert b.name == "b:1"
    NAME_SCOPES.append("agent")
    try:
        scoped = node(0)
        assert scoped.name == "agent/int:0"
    finally:
        NAME_SCOPES.pop()
    assert IDENTITY_OPERATORS == ("identity", "clone") and FROM_PROPAGATOR is IDENTITY_OPERATORS


def test_exception_node_accepts_trace_01_constraint():
    with pytest.warns(DeprecationWarning):
        failure = ExceptionNode(ValueError("bad"), inputs=[node(1)], constraint="must be > 0")
    assert failure.data == "(ValueError) bad" and "must be > 0" in failure.description


def test_seq_and_map_have_list_and_dict_semantics():
    seq = Seq(1, 2, 3)
    assert Seq([1, 2, 3]) == seq and Seq("ab") == ["a", "b"]
    single = node([4, 5])
    assert Seq(single)[0] is single  # a node is one item
    assert isinstance(seq[1:], Seq) and isinstance(seq.copy(), Seq) and seq.copy() == seq
    seq.append(4)
    seq.insert(0, 0)
    assert seq == [0, 1, 2, 3, 4] and seq.pop() == 4 and seq.index(2) == 2
    mapping = Map({"a": 1})
    assert isinstance(mapping.copy(), Map) and mapping.get("b", 9) == 9
    assert Map.fromkeys(["x", "y"], 0) == {"x": 0, "y": 0} and isinstance(Map.fromkeys([]), Map)
    mapping.update(b=2)
    assert sorted(mapping.keys()) == ["a", "b"] and mapping.setdefault("c", 3) == 3


@bundle(trainable=True)
def choose(xs):
    """Chooses."""
    return xs[0]


class Team(ParameterContainer):
    def __init__(self):
        self.lead = node("Ann", trainable=True)
        self.members = Seq(node("Bo", trainable=True), "not a parameter")

    @bundle(trainable=True)
    def plan(self, goal):
        """Plans."""
        return goal


def test_trainable_method_and_copy_sharing_parameters():
    team = Team()
    assert trainable_method(choose) and trainable_method(team.plan)
    assert not trainable_method(bundle()(lambda x: x)) and not trainable_method(len)
    team.plan("win")
    duplicate = team.copy()
    assert duplicate is not team and duplicate.members is not team.members
    assert duplicate.lead is team.lead and duplicate.members[0] is team.members[0]
    assert {id(p) for p in duplicate.parameters()} == {id(p) for p in team.parameters()}


def test_iterators():
    words = node(("x", "y"))
    iterator = iterate(words)
    assert isinstance(iterator, SeqIterable) and isinstance(iter(words), SeqIterable)
    assert [w.data for w in iterator] == ["x", "y"]
    assert [w.data for w in iterator] == ["x", "y"]  # iterating again starts over
    assert sorted(w.data for w in iterate({3, 1})) == [1, 3]
    assert [k.data for k in node({"a": 1}.keys())] == ["a"]  # other iterables via a list
    pairs = DictIterable(node({"k": "v"}))
    assert [(k.data, v.data) for k, v in pairs] == [("k", "v")]
    assert isinstance(node({"k": 1}).items(), DictIterable)
    with pytest.raises(ExecutionError) as caught:
        iter(node(5))
    assert caught.value.exception_node.data == (
        "(TypeError) Cannot unpack non-iterable <class 'int'> object"
    )
    with stop_tracing():
        assert [w.data for w in iterate(words)] == ["x", "y"]
