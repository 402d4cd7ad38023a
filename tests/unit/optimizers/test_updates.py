import pytest

from opto.optimizers.updates import RefusedValue, check_code, convert_value, plan_updates
from opto.trace import bundle, node
from opto.trace.projections import DocstringProjection


def convert(current, value):
    return convert_value(node(current, trainable=True), value)


@pytest.mark.parametrize(
    ("current", "value", "expected"),
    [
        (3, 5, 5),
        (3, "7", 7),
        (3, 5.0, 5),
        (3, " 12 ", 12),
        (3, "4.0", 4),
        (1.5, 2, 2.0),
        (1.5, "2.25", 2.25),
        (True, "false", False),
        (True, 0, False),
        ("text", 5, "5"),
        ("text", {"a": 1}, '{"a": 1}'),
        ([1], "[1, 2]", [1, 2]),
        ([1], (1, 2), [1, 2]),
        ((1,), [1, 2], (1, 2)),
        ({"a": 1}, '{"b": 2}', {"b": 2}),
        ({"a": 1}, "{'b': 2}", {"b": 2}),
        ({1}, [1, 2], {1, 2}),
        (None, "anything", "anything"),
    ],
)
def test_values_convert_to_the_parameter_type(current, value, expected):
    result = convert(current, value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("current", "value", "reason"),
    [
        (3, 5.7, "refused rather than truncated"),
        (3, "5.7", "refused rather than truncated"),
        (3, "five", "expected an int"),
        (3, True, "bool"),
        (3, [1], "expected an int"),
        (1.5, "fast", "expected a float"),
        (1.5, None, "expected a float"),
        (True, "maybe", "expected a bool"),
        ([1], "not a list", "expected a list"),
        ({"a": 1}, [1], "expected a dict"),
    ],
)
def test_values_that_would_change_type_or_lose_information_are_refused(current, value, reason):
    with pytest.raises(RefusedValue, match=reason):
        convert(current, value)


CODE = 'def f(x, y=1, *rest, flag=False, **options):\n    """Adds."""\n    return x + y\n'


def test_code_must_compile_and_keep_name_and_signature():
    check_code(CODE, CODE.replace("x + y", "x * y"))
    check_code(CODE, "import math\n\ndef helper(v):\n    return v\n\n" + CODE)
    with pytest.raises(RefusedValue, match="does not compile"):
        check_code(CODE, "def f(x, y=1, *rest, flag=False, **options):\n    return (x +\n")
    with pytest.raises(RefusedValue, match="must define the function f"):
        check_code(CODE, CODE.replace("def f(", "def g("))
    with pytest.raises(RefusedValue, match="signature of f must stay"):
        check_code(CODE, CODE.replace("x, y=1", "x, z=1"))
    with pytest.raises(RefusedValue, match="must be a string"):
        check_code(CODE, 42)


def test_plan_applies_nothing_that_failed_and_reports_why():
    @bundle(trainable=True)
    def scale(x):
        return x

    rate = node(0.1, trainable=True, name="rate")
    count = node(3, trainable=True, name="count")
    frozen = node("keep", trainable=True, name="frozen")
    frozen.trainable = False
    plan = plan_updates(
        {
            "rate0": "0.2",
            "count:0": 4.5,
            scale.parameter.py_name: "def scale(x):\n    return x +\n",
            "unknown7": 1,
            "frozen0": "changed",
        },
        [rate, count, scale.parameter, frozen],
    )
    assert plan.accepted == {rate: 0.2}
    assert set(plan.refused) == {"count0", scale.parameter.py_name}
    assert plan.unknown == ["unknown7", "frozen0"]
    assert "count0: expected an int" in plan.feedback_text()
    assert (rate.data, count.data) == (0.1, 3), "planning must not write anything"


def test_blank_code_suggestions_are_dropped_and_projections_apply():
    keep = DocstringProjection("Doubles x.")

    @bundle(trainable=True, projections=[keep])
    def double(x):
        """Doubles x."""
        return 2 * x

    name = double.parameter.py_name
    assert plan_updates({name: "   "}, [double.parameter]).accepted == {}
    plan = plan_updates(
        {name: 'def double(x):\n    """Whatever."""\n    return x + x'}, [double.parameter]
    )
    assert (
        plan.accepted[double.parameter] == 'def double(x):\n    """Doubles x."""\n    return x + x'
    )


def test_code_python_cannot_read_is_refused_not_a_crash():
    current = "def f(x):\n    return x\n"
    deep = "def f(x):\n    return " + "+".join(["x"] * 6000) + "\n"
    with pytest.raises(RefusedValue, match="does not compile"):
        check_code(current, "def f(x):\n    return '\ud800'\n")
    try:
        check_code(current, deep)
    except RefusedValue as refusal:  # Python 3.11 cannot parse it; 3.10 and 3.13 can
        assert "too deeply" in str(refusal)
