import math
import operator as py

import pytest

from opto.trace import ExecutionError, MessageNode, Node, node, operators, stop_tracing

BINARY = [
    (py.add, "add", 7, 3),
    (py.sub, "subtract", 7, 3),
    (py.mul, "multiply", 7, 3),
    (py.floordiv, "floor_divide", 7, 3),
    (py.truediv, "divide", 7, 3),
    (py.mod, "mod", 7, 3),
    (divmod, "node_divmod", 7, 3),
    (py.pow, "power", 7, 3),
    (py.lshift, "lshift", 7, 3),
    (py.rshift, "rshift", 7, 3),
    (py.and_, "and_", 6, 3),
    (py.or_, "or_", 6, 3),
    (py.xor, "xor", 6, 3),
    (py.lt, "lt", 2, 3),
    (py.le, "le", 3, 3),
    (py.gt, "gt", 2, 3),
    (py.ge, "ge", 2, 3),
]


REFLECTED_COMPARISON = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


@pytest.mark.parametrize(("fn", "op_name", "a", "b"), BINARY, ids=[row[1] for row in BINARY])
def test_binary_operators_match_python_and_record_parents(fn, op_name, a, b):
    x, y = node(a), node(b)
    both = fn(x, y)
    assert isinstance(both, MessageNode) and both.data == fn(a, b)
    assert both.op_name == op_name and both.info["fun_name"] == op_name
    assert both.inputs == {"x": x, "y": y} and both.parents == [x, y]
    assert both.description

    right_constant = fn(x, b)
    assert right_constant.data == fn(a, b) and right_constant.op_name == op_name
    assert right_constant.parents[0] is x and right_constant.parents[1].data == b

    left_constant = fn(a, y)
    assert left_constant.data == fn(a, b)
    if op_name in REFLECTED_COMPARISON:  # Python turns `a < y` into `y > a`
        assert left_constant.op_name == REFLECTED_COMPARISON[op_name]
        assert left_constant.parents[0] is y
    else:
        assert left_constant.op_name == op_name
        assert left_constant.parents[0].data == a and left_constant.parents[1] is y


UNARY = [
    (py.neg, "neg", 5),
    (py.pos, "pos", -5),
    (abs, "abs", -5),
    (py.invert, "invert", 5),
    (round, "round", 2.6),
    (math.floor, "floor", 2.6),
    (math.ceil, "ceil", 2.2),
    (math.trunc, "trunc", -2.6),
]


@pytest.mark.parametrize(("fn", "op_name", "a"), UNARY, ids=[row[1] for row in UNARY])
def test_unary_operators(fn, op_name, a):
    x = node(a)
    out = fn(x)
    assert out.data == fn(a) and out.op_name == op_name and out.parents == [x]


def test_round_with_digits():
    out = round(node(2.345), 2)
    assert out.data == round(2.345, 2)
    assert [p.data for p in out.parents] == [2.345, 2]


def test_string_concatenation_uses_concat():
    s = node("ab")
    assert (s + "c").op_name == "concat" and (s + "c").data == "abc"
    assert ("z" + s).op_name == "concat" and ("z" + s).data == "zab"
    assert (node(1) + 2).op_name == "add"
    assert (node([1]) + [2]).data == [1, 2]  # noqa: RUF005 - traced concat


def test_eq_is_untraced_and_eq_neq_methods_are_traced():
    x = node(3)
    assert (x == 3) is True
    traced = x.eq(3)
    assert traced.data is True and traced.op_name == "eq" and traced.parents[0] is x
    assert x.neq(4).data is True and x.neq(4).op_name == "neq"


def test_comparison_result_truthiness():
    assert bool(node(2) < 3) and not bool(node(4) < 3)


def test_getitem_len_and_iteration():
    xs = node([10, 20, 30])
    first = xs[0]
    assert first.data == 10 and first.op_name == "getitem" and first.parents[0] is xs
    assert xs[1:].data == [20, 30]
    assert xs.len().data == 3 and xs.len().op_name == "len_" and len(xs) == 3
    items = list(xs)
    assert [i.data for i in items] == [10, 20, 30]
    assert all(i.op_name == "getitem" and i.parents[0] is xs for i in items)
    assert [c.data for c in node("ab")] == ["a", "b"]
    assert [v.data for v in node((1, 2))] == [1, 2]


def test_dict_iteration_items_keys_values_get():
    d = node({"a": 1, "b": 2})
    assert [k.data for k in d] == ["a", "b"]
    pairs = [(k.data, v.data) for k, v in d.items()]
    assert pairs == [("a", 1), ("b", 2)]
    key, value = next(iter(d.items()))
    assert value.op_name == "getitem" and d in value.parents and key in value.parents
    assert d.keys().data == ["a", "b"] and d.values().data == [1, 2]
    assert d.get("a").data == 1 and d.get("zz", 0).data == 0
    assert d.pop("a").data == 1 and d.data == {"a": 1, "b": 2}


def test_set_iteration_yields_every_member():
    members = sorted(v.data for v in node({3, 1, 2}))
    assert members == [1, 2, 3]


def test_container_methods_do_not_mutate_inputs():
    xs = node([1, 2])
    appended = xs.append(3)
    assert appended.data == [1, 2, 3] and xs.data == [1, 2]
    assert xs.pop().data == 2 and xs.data == [1, 2]


def test_string_methods():
    s = node(" Hello World ")
    assert s.strip().data == "Hello World"
    assert s.lower().data == " hello world " and s.upper().data == " HELLO WORLD "
    assert s.swapcase().data == " hELLO wORLD " and node("ab cd").title().data == "Ab Cd"
    assert node("abc").capitalize().data == "Abc"
    assert s.split().data == ["Hello", "World"] and node("a,b").split(",").data == ["a", "b"]
    assert node("a-a").replace("a", "b").data == "b-b"
    assert node("xyx").replace("x", "z", 1).data == "zyx"
    assert node("x").strip("x").data == ""
    joined = node(",").join([node("a"), "b"])
    assert joined.data == "a,b" and list(joined.inputs) == ["x", "args_0", "args_1"]
    formatted = node("{} {y}").format(node("a"), y="c")
    assert formatted.data == "a c" and list(formatted.inputs) == ["x", "args_0", "y"]
    with pytest.raises(AttributeError):
        node(3).upper()


def test_getattr_call_and_calling_a_node():
    s = node("abc")
    upper = s.call("upper")
    assert upper.data == "ABC" and upper.op_name == "call"
    assert upper.parents[0].op_name == "node_getattr"

    class Recorder:
        def record(self, value):
            self.value = value
            return value

    recorder = node(Recorder())
    recorded = recorder.call("record", "hi")
    assert isinstance(recorder.data.value, Node) and recorder.data.value.data == "hi"
    assert recorded.data == "hi"  # a node returned by the call gives its data, as in Trace
    f = node(lambda v, k=0: v + k)
    called = f(1, k=2)
    assert called.data == 3 and list(called.inputs) == ["fun", "args_0", "k"]
    assert s.getattr("upper").data() == "ABC"


FUNCTIONAL = [
    (operators.cond, (True, 1, 2), 1),
    (operators.cond, (0, 1, 2), 2),
    (operators.not_, (0,), True),
    (operators.is_, (None, None), True),
    (operators.is_not, (1, None), True),
    (operators.in_, (1, [1, 2]), True),
    (operators.not_in, (3, [1, 2]), True),
    (operators.ord_, ("a",), 97),
    (operators.chr_, (97,), "a"),
    (operators.to_list, ((1, 2),), [1, 2]),
    (operators.make_list, (1, 2), [1, 2]),
    (operators.to_dict, ([("a", 1)],), {"a": 1}),
    (operators.to_set, ([1, 1],), {1}),
    (operators.make_set, (1, 2), {1, 2}),
    (operators.to_tuple, ([1],), (1,)),
    (operators.make_tuple, (1, 2), (1, 2)),
    (operators.keys, ({"a": 1},), ["a"]),
    (operators.values, ({"a": 1},), [1]),
    (operators.dict_update, ({"a": 1}, {"b": 2}), {"a": 1, "b": 2}),
    (operators.dict_pop, ({"a": 1}, "a"), 1),
    (operators.dict_popitem, ({"a": 1},), ("a", 1)),
    (operators.list_append, ([1], 2), [1, 2]),
    (operators.list_clear, ([1],), []),
    (operators.list_extend, ([1], [2, 3]), [1, 2, 3]),
    (operators.list_insert, ([1, 3], 1, 2), [1, 2, 3]),
    (operators.list_pop, ([1, 2],), 2),
    (operators.list_remove, ([1, 2, 1], 1), [2, 1]),
    (operators.list_reverse, ([1, 2],), [2, 1]),
    (operators.list_sort, ([2, 1],), [1, 2]),
    (operators.set_add, ({1}, 2), {1, 2}),
    (operators.set_clear, ({1},), set()),
    (operators.set_discard, ({1, 2}, 2), {1}),
    (operators.set_intersection_update, ({1, 2}, {2, 3}), {2}),
    (operators.set_pop, ({1},), 1),
    (operators.set_remove, ({1, 2}, 1), {2}),
    (operators.set_symmetric_difference_update, ({1, 2}, {2, 3}), {1, 3}),
    (operators.set_update, ({1}, {2}), {1, 2}),
    (operators.identity, (5,), 5),
    (operators.len_, ([1, 2],), 2),
    (operators.pop, ([1, 2], 0), 1),
    (operators.getitem, ({"k": 1}, "k"), 1),
    (operators.node_getattr, ("s", "upper"), "s".upper),
]


@pytest.mark.parametrize(
    ("op", "args", "expected"),
    FUNCTIONAL,
    ids=[f"{r[0].name}-{i}" for i, r in enumerate(FUNCTIONAL)],
)
def test_functional_operators(op, args, expected):
    inputs = [node(a) for a in args]
    snapshot = [repr(i.data) for i in inputs]
    out = op(*inputs)
    assert out.data == expected
    assert out.op_name == op.name and out.description
    assert out.parents == list(dict.fromkeys(inputs))
    assert [repr(i.data) for i in inputs] == snapshot, "operators must not mutate inputs"


def test_make_dict_takes_keywords():
    out = operators.make_dict(a=1, b=node(2))
    assert out.data == {"a": 1, "b": 2} and list(out.inputs) == ["a", "b"]


def test_call_llm_reads_the_reply_content():
    class Reply:
        def __init__(self, text):
            message = type("Message", (), {"content": text})()
            self.choices = [type("Choice", (), {"message": message})()]

    seen = {}

    def fake_llm(messages, **kwargs):
        seen["messages"] = messages
        return Reply("hi there")

    prompt = node("be brief")
    out = operators.call_llm(fake_llm, prompt, "hello")
    assert out.data == "hi there" and prompt in out.parents
    assert seen["messages"][0] == {"role": "system", "content": "be brief"}
    assert seen["messages"][1] == {"role": "user", "content": "hello"}


def test_errors_become_exception_nodes():
    a = node("a")
    with pytest.raises(ExecutionError) as caught:
        a - 1
    error_node = caught.value.exception_node
    assert error_node.name == "exception_subtract:0"
    assert error_node.data.startswith("(TypeError) unsupported operand")
    assert error_node.parents[0] is a and error_node.parents[1].data == 1
    assert isinstance(caught.value.exception, TypeError)
    assert "Traceback" in str(caught.value) and "unsupported operand" in str(caught.value)
    assert "Traceback" in error_node.create_feedback("full")


def test_signature_errors_are_type_errors():
    with pytest.raises(TypeError, match="positional"):
        operators.add(1, 2, 3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        operators.add(1, z=2)


def test_operators_under_stop_tracing_have_no_parents():
    p = node(1, trainable=True)
    with stop_tracing():
        out = p + 1
    assert out.data == 2 and out.parents == [] and out.inputs == {}
    assert p.children == [] and out.parameter_dependencies == set()


def test_operators_pickle_by_reference():
    import pickle

    assert pickle.loads(pickle.dumps(operators.add)) is operators.add
