"""The bounded renderer: str()/repr() for ordinary values, bounded text for the rest."""

import json
import time

import pytest

from opto.optimizers.problem import render_value
from opto.utils.rendering import MAX_CHARS, render_repr, render_text


class ListSub(list):
    pass


class SetSub(set):
    pass


class DictSub(dict):
    pass


ORDINARY = [
    1,
    -7,
    1.5,
    float("nan"),
    True,
    None,
    b"by'tes",
    [1, "a", (2,), {3}, frozenset(), set(), {"k": [1.0]}],
    ListSub([1, [2]]),
    SetSub([1]),
    SetSub(),
    DictSub(a=(1,)),
    (),
    (1,),
    {},
    [[]],
    frozenset([1]),
    {1: {2: (3,)}},
    10**1000,
    ['q"uote', "it's", "both'\""],
    complex(1, 2),
]


@pytest.mark.parametrize("value", ORDINARY, ids=[type(v).__name__ for v in ORDINARY])
def test_ordinary_values_read_as_python_prints_them(value):
    assert render_text(value) == str(value)
    assert render_repr(value) == repr(value)


def test_a_str_is_returned_whole():
    text = "x" * (MAX_CHARS * 3)
    assert render_text(text) is text


def shared_twice(levels):
    value = [1]
    for _ in range(levels):
        value = [value, value]
    return value


class Unprintable:
    def __str__(self):
        raise ValueError("nope")

    __repr__ = __str__


class Liar:
    def __str__(self):
        return 42

    def __repr__(self):
        return 42


class Plain:
    pass


class WithAddress:
    def __repr__(self):
        return f"<WithAddress at 0x{id(self):x}>"


def test_long_ints_show_their_size_and_leading_digits():
    assert render_text(10**5000) == "<int of about 5,001 digits: 1.0000e+5000>"
    assert render_repr([-(3 * 10**6000)]) == "[<int of about 6,001 digits: -3.0000e+6000>]"


def test_containers_inside_themselves_show_as_python_shows_them():
    items = [1]
    items.append(items)
    table = {}
    table["self"] = table
    assert render_text(items) == repr(items) == "[1, [...]]"
    assert render_text(table) == repr(table) == "{'self': {...}}"


def test_objects_that_cannot_print_are_described():
    assert render_text(Unprintable()) == (
        f"<{__name__}.Unprintable object (str() failed: ValueError: nope)>"
    )
    assert "repr() failed: TypeError" in render_text([Liar()])
    assert render_text([Plain(), WithAddress()]) == f"[<{__name__}.Plain object>, <WithAddress>]"
    assert render_value(Plain()) == f"<{__name__}.Plain object>"


def test_depth_and_size_are_bounded():
    deep = []
    for _ in range(5000):
        deep = [deep]
    text = render_text(deep)
    assert text.startswith("[" * 100 + "[...]") and len(text) < 300
    wide = render_text(list(range(10**6)))
    assert len(wide) < MAX_CHARS + 100 and wide.endswith(f"...(cut at {MAX_CHARS:,} characters)")
    assert len(render_text(shared_twice(60), max_chars=5000)) < 5100
    assert len(render_repr("y" * 10**6, max_chars=100)) < 200


def test_time_depends_on_the_limit_not_on_what_the_value_would_print_to():
    def seconds(levels):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            render_text(shared_twice(levels), max_chars=50_000)
            best = min(best, time.perf_counter() - start)
        return best

    # 2**20 and 2**60 leaves print to the same 50,000 characters: the time may not grow
    # with the leaves (printing it all would take 2**40 times longer).
    assert seconds(60) < 4 * seconds(20)


def test_render_json_is_json_dumps_for_json_and_never_raises():
    from opto.utils.rendering import render_json

    entry = {"variables": {"x0": [1, 2.5, None]}, "feedback": "ok", "tags": {3}}
    assert render_json(entry) == json.dumps(entry, indent=4, default=str)
    items = [1]
    items.append(items)
    assert render_json({"x0": items}) == "{'x0': [1, [...]]}"
    assert "digits" in render_json({"x0": 10**5000})


def test_optimizer_memory_of_a_parameter_that_cannot_be_written_as_json():
    from opto.llm import DummyLLM
    from opto.optimizers import OptoPrime
    from opto.trace import node

    items = [1]
    items.append(items)
    parameter = node(items, trainable=True, name="loop")
    prompts = []

    def teacher(*args, messages, **kwargs):
        prompts.append(messages[-1]["content"])
        return '{"reasoning": "r", "suggestion": {"other0": 1}}'

    optimizer = OptoPrime([parameter], llm=DummyLLM(teacher), memory_size=2)
    for _ in range(2):
        optimizer.zero_feedback()
        optimizer.backward(parameter, "fine")
        optimizer.step()
    assert "[1, [...]]" in prompts[1]
