"""Property tests: traced arithmetic gives exactly what plain Python gives."""

import math
import operator as py

from hypothesis import assume, given
from hypothesis import strategies as st

from opto.trace import ExecutionError, node

numbers = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e6, max_value=1e6),
)
ARITHMETIC = [py.add, py.sub, py.mul, py.truediv, py.floordiv, py.mod, py.lt, py.le, py.gt, py.ge]


def plain_or_error(fn, a, b):
    try:
        return fn(a, b), None
    except Exception as error:
        return None, type(error)


@given(a=numbers, b=numbers, fn=st.sampled_from(ARITHMETIC))
def test_traced_binary_ops_equal_plain_python(a, b, fn):
    expected, error = plain_or_error(fn, a, b)
    for left, right in ((node(a), node(b)), (node(a), b), (a, node(b))):
        if error is not None:
            try:
                fn(left, right)
            except ExecutionError as caught:
                assert isinstance(caught.exception, error)
            else:
                raise AssertionError("traced op must fail like plain Python")
            continue
        result = fn(left, right)
        assert result.data == expected or (math.isnan(expected) and math.isnan(result.data))
        assert type(result.data) is type(expected)


@given(a=st.integers(-1000, 1000), b=st.integers(0, 16))
def test_traced_bit_ops_equal_plain_python(a, b):
    for fn in (py.lshift, py.rshift, py.and_, py.or_, py.xor):
        assert fn(node(a), node(b)).data == fn(a, b)
        assert fn(a, node(b)).data == fn(a, b)


@given(a=numbers, b=st.integers(min_value=0, max_value=3))
def test_traced_power_equals_plain_python(a, b):
    assume(abs(a) < 1e4)
    assert (node(a) ** b).data == a**b


@given(values=st.lists(numbers, min_size=1, max_size=20))
def test_expression_chains_equal_plain_python(values):
    traced = node(values[0], trainable=True)
    plain = values[0]
    for index, value in enumerate(values[1:]):
        if index % 2:
            traced, plain = traced + value, plain + value
        else:
            traced, plain = traced * value - 1, plain * value - 1
    assert (traced.data if hasattr(traced, "data") else traced) == plain


@given(a=st.text(max_size=20), b=st.text(max_size=20))
def test_traced_string_concatenation(a, b):
    assert (node(a) + b).data == a + b
    assert (a + node(b)).data == a + b
    assert (node(a) + node(b)).data == a + b


@given(a=numbers)
def test_traced_unary_ops(a):
    x = node(a)
    assert (-x).data == -a and (+x).data == +a and abs(x).data == abs(a)
    assert round(x).data == round(a) and math.floor(x).data == math.floor(a)
    assert math.ceil(x).data == math.ceil(a) and math.trunc(x).data == math.trunc(a)
