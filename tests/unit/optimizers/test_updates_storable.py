"""A suggestion a checkpoint could not hold is refused with a reason the LLM can read."""

import pytest

from opto.optimizers.updates import plan_updates
from opto.trace import node


def deep_list(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


def shared_twice(levels):
    value = [1]
    for _ in range(levels):
        value = [value, value]
    return value


def contains_itself():
    value = [1]
    value.append(value)
    return value


CASES = [
    (0.5, float("inf"), "inf, which is not a finite number"),
    (0.5, float("-inf"), "-inf, which is not a finite number"),
    (0.5, float("nan"), "nan, which is not a finite number"),
    (0.5, "1e999", "inf, which is not a finite number"),
    (0.5, "NaN", "nan, which is not a finite number"),
    ([1.0], [1.0, float("inf")], "inf, which is not a finite number"),
    ({"a": 1}, "{'a': {1, 2}}", "builtins.set, which JSON cannot hold"),
    ({"a": 1}, {"a": {1, 2}}, "builtins.set, which JSON cannot hold"),
    ({"a": 1}, {"a": {1: 2}}, "a dict key that is not a string"),
    ((1,), (1, frozenset([2])), "builtins.frozenset"),
    (None, {1, 2}, "builtins.set"),
    (None, b"bytes", "builtins.bytes, which JSON cannot hold"),
    (None, 10**5000, "digits, too long to write"),
    ([1], deep_list(150), "nested deeper than 100 levels"),
    ([1], shared_twice(60), "more than 10,000,000 items"),
    ([1], contains_itself(), "a container that contains itself"),
]


@pytest.mark.parametrize(
    ("current", "suggested", "reason"), CASES, ids=[f"{i}-{c[2][:20]}" for i, c in enumerate(CASES)]
)
def test_values_a_checkpoint_cannot_hold_are_refused(current, suggested, reason):
    parameter = node(current, trainable=True, name="p")
    plan = plan_updates({parameter.py_name: suggested}, [parameter])
    if plan.accepted:  # (no assert: showing some of these values would never finish)
        pytest.fail("the value was accepted")
    assert reason in plan.refused[parameter.py_name]
    assert plan.refused[parameter.py_name].startswith("the value holds ")
    assert parameter.data == current or current != current


def test_a_parameter_that_holds_a_set_still_takes_sets_but_not_nan():
    parameter = node({1}, trainable=True, name="tags")
    assert plan_updates({parameter.py_name: [1, 2]}, [parameter]).accepted[parameter] == {1, 2}
    refused = plan_updates({parameter.py_name: [float("nan")]}, [parameter]).refused
    assert "nan, which is not a finite number" in refused[parameter.py_name]


def test_ordinary_values_are_accepted():
    parameter = node({"a": [1, 2.5, None, True, "x", (3,)]}, trainable=True, name="d")
    plan = plan_updates({parameter.py_name: {"b": [1e300, -0.0, (4, 5)]}}, [parameter])
    assert plan.accepted[parameter] == {"b": [1e300, -0.0, (4, 5)]}
