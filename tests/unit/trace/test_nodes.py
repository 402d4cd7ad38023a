import copy
import pickle
import warnings

import pytest

from opto.trace import GRAPH, ExceptionNode, MessageNode, Node, ParameterNode, node
from opto.trace.nodes import get_op_name


def test_names_count_per_base_name():
    a, b, c = node(1), node(2), node("s")
    assert (a.name, b.name, c.name) == ("int:0", "int:1", "str:0")
    assert (a.py_name, a.id) == ("int0", "0")
    named = node(3, name="lr")
    assert named.name == "lr:0" and node(4, name="lr").name == "lr:1"
    assert GRAPH.count("int") == 2 and GRAPH.count("lr") == 2 and len(GRAPH) == 5


def test_node_factory_semantics():
    x = node(1.5)
    assert type(x) is Node and not x.trainable and x.data == 1.5
    assert node(x) is x
    with pytest.warns(UserWarning, match="ignored"):
        assert node(x, name="other") is x
    p = node(x, trainable=True)
    assert type(p) is ParameterNode and p is not x and p.trainable
    assert p.data == 1.5 and p.name.startswith("float:")
    q = node(p, trainable=True, description="keep positive")
    assert q is not p and q.description == "keep positive"


def test_description_and_constraint():
    assert Node(1).description is None
    assert Node(1, description="an input").description == "an input"
    assert ParameterNode(1).description is None
    with pytest.warns(DeprecationWarning):
        p = ParameterNode(1, constraint="must be positive")
    assert p.description == "must be positive" and p.constraint == "must be positive"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        both = node(1, trainable=True, description="a rate", constraint="< 1")
    assert both.description == "a rate\n< 1"
    m = MessageNode(3, inputs=[Node(1)], description="[add] sum of inputs")
    assert m.description == "sum of inputs" and m.op_name == "add" and m.name == "add:0"
    plain = MessageNode(3, inputs=[], description="no prefix")
    assert plain.op_name == "MessageNode" and plain.description == "no prefix"
    assert get_op_name("[concat] x") == "concat" and get_op_name("plain") is None


def test_levels_parents_children_and_roots():
    a = node(1.0, trainable=True)
    b = node(2.0)
    c = a + b
    d = c * a
    assert a.level == 0 and c.level == 1 and d.level == 2
    assert c.parents == [a, b] and [p.name for p in d.parents] == [c.name, a.name]
    assert set(map(id, a.children)) == {id(c), id(d)}
    assert a.is_root and not c.is_root and d.is_leaf and not a.is_leaf


def test_repeated_input_is_one_parent_edge():
    a = node(2)
    doubled = a + a
    assert doubled.parents == [a] and list(doubled.inputs) == ["x", "y"]
    assert len(a.children) == 1


def test_message_node_inputs_and_info():
    a, b = node(1), node(2)
    c = a + b
    assert c.inputs == {"x": a, "y": b}
    c.inputs["z"] = a
    assert "z" not in c.inputs, "inputs must be a copy"
    assert c.info["fun_name"] == "add" and c.description.startswith("Sum")
    custom = MessageNode(5, inputs={"left": a}, description="[double] twice", info={"k": 1})
    assert custom.info == {"k": 1} and custom.parents == [a]
    with pytest.raises(TypeError, match="must be a node"):
        MessageNode(1, inputs={"x": 3}, description="[f]")


def test_parameter_dependencies():
    p, q = node(1, trainable=True), node(2, trainable=True)
    const = node(5)
    out = (p + const) * (q + 1)
    assert out.parameter_dependencies == {p, q}
    assert (const + 1).parameter_dependencies == set()
    assert p.parameter_dependencies == {p}
    assert out.expandable_dependencies == set()


def test_hidden_dependencies_count_as_parameters():
    p = node(1, trainable=True)
    inner = MessageNode(2, inputs=[node(0)], description="[f] uses p internally")
    inner._set_hidden_dependencies([p])
    assert inner.parameter_dependencies == {p}
    assert inner.expandable_dependencies == {inner}
    assert (inner + 1).parameter_dependencies == {p}


def test_equality_is_on_data_and_hash_is_identity():
    a, b = node(3), node(3)
    assert a == b and a == 3 and a != 4
    assert hash(a) != hash(b) and len({a, b}) == 2
    assert {a: 1}[a] == 1


def test_bool_len_contains_are_untraced():
    x = node([1, 2])
    assert bool(x) and not bool(node(0)) and len(x) == 2
    assert 2 in x and node(1) in x
    assert x.children == []


def test_str_form():
    x = node(1.5, name="w")
    assert str(x) == "Node: (w:0, dtype=<class 'float'>, data=1.5)"
    assert str(x + 1).startswith("MessageNode: (add:0, dtype=<class 'float'>")


def test_feedback_and_zero_feedback():
    p = node(1, trainable=True)
    y = p + 1
    y.backward("too small")
    assert list(p.feedback) == [y]
    p.zero_feedback()
    assert dict(p.feedback) == {}


def test_clone_is_traced_copy_and_detach_is_a_new_root():
    p = node([1, 2], trainable=True)
    c = p.clone()
    assert isinstance(c, MessageNode) and c.parents == [p] and c.data == [1, 2]
    assert c.data is not p.data and c.op_name == "clone"
    d = p.detach()
    assert type(d) is ParameterNode and d.parents == [] and d.name == "list0_copy:0"
    assert d.data == p.data and d.data is not p.data and dict(d.feedback) == {}


def test_deepcopy_keeps_name_and_cuts_edges():
    p = node({"k": 1}, trainable=True, description="a dict")
    y = p.getattr("keys")
    clone = copy.deepcopy(y)
    assert clone.name == y.name and clone.parents == [] and clone.data is not None
    pc = copy.deepcopy(p)
    assert pc.name == p.name and pc.trainable and pc.description == "a dict"
    assert pc.data == p.data and pc.data is not p.data and pc.children == []


def test_pickle_round_trip():
    p = node(2.0, trainable=True, description="weight")
    y = p * 3
    restored = pickle.loads(pickle.dumps(y))
    assert restored.data == 6.0 and restored.name == y.name
    assert restored.parents[0].name == p.name and restored.parents[0].description == "weight"


def test_exception_node_data_and_feedback():
    error = ValueError("bad value")
    e = ExceptionNode(error, inputs=[node(1)], info={"error_comment": "line 3 <--- bad"})
    assert e.data == "(ValueError) bad value" and e.exception is error
    assert e.create_feedback() == "(ValueError) bad value"
    assert e.create_feedback("full") == "line 3 <--- bad"
    with pytest.raises(ValueError, match="style"):
        e.create_feedback("verbose")

    class CustomError(Exception):
        pass

    custom = ExceptionNode(CustomError("x"), inputs=[])
    assert custom.data.startswith(f"({__name__}.") and custom.data.endswith("CustomError) x")


def test_set_replaces_value():
    p = node(1, trainable=True)
    p._set(5)
    assert p.data == 5
    p._set(node(7))
    assert p.data == 7
