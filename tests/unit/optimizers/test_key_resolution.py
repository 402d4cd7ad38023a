"""Reading suggested keys as prompt names: every echo form maps to the one name it fits,
ambiguity is refused, and hostile keys and values cost linear time."""

import time

import pytest

from opto.optimizers.key_resolution import (
    PromptNames,
    candidates_for,
    resolve_suggestion,
    strip_echo,
)

NAMES = PromptNames(
    variables=("__code0", "a0", "b0"),
    inputs=frozenset({"lst0", "int3"}),
    computed=frozenset({"eval0"}),
    code_variables=("__code0",),
)
CODE_ONLY = PromptNames(
    variables=("heuristic0",),
    inputs=frozenset(),
    computed=frozenset(),
    code_variables=("heuristic0",),
)


@pytest.mark.parametrize(
    "key",
    [
        "__code0",
        "(code) __code0",
        "`__code0`",
        "code0",
        "__code0: The code should start with:",
        "(code) __code0:def strange_sort_list(lst):",
        '"__code0"',
        "**__code0**",
    ],
)
def test_echoes_of_a_variable_line_fit_that_variable_only(key):
    assert candidates_for(key, NAMES) == ["__code0"]


@pytest.mark.parametrize("key", ["fib4(0) -> 0", "return c", "code", "a", "x", "", "a:0"])
def test_keys_that_echo_no_name_fit_nothing(key):
    assert candidates_for(key, NAMES) == []


def test_a_key_that_fits_two_names_is_refused_with_both_names():
    names = PromptNames(variables=("_x0", "__x0"))
    resolved = resolve_suggestion({"x0": 1}, names)
    assert resolved.suggestion == {}
    assert resolved.refused["x0"] == (
        "this key could mean _x0, __x0; write the exact name the prompt shows"
    )


def test_the_exact_key_wins_over_an_echo_of_the_same_name():
    resolved = resolve_suggestion({"(float) a0": 1.0, "a0": 2.0}, NAMES)
    assert resolved.suggestion == {"a0": 2.0} and not resolved.refused


def test_echoes_that_agree_are_one_suggestion():
    resolved = resolve_suggestion({"(float) a0": 3.0, "`a0`": 3.0}, NAMES)
    assert resolved.suggestion == {"a0": 3.0}
    assert resolved.renamed == {"(float) a0": "a0", "`a0`": "a0"}


def test_echoed_prefixes_are_removed_from_values():
    assert strip_echo("(float) a0=5.64", "a0", False) == "5.64"
    assert strip_echo("(code) __code0:def f(x):\n    return x", "__code0", True) == (
        "def f(x):\n    return x"
    )
    assert strip_echo("__code0: def f(x): pass", "__code0", True) == "def f(x): pass"
    # a bare "name:" stays on values that are not code, and on code that is an annotation
    assert strip_echo("a0: more", "a0", False) == "a0: more"
    assert strip_echo("__code0: int = 1", "__code0", True) == "__code0: int = 1"


def test_the_code_label_alone_on_the_first_line_is_removed_from_code():
    # A real reply of Qwen2.5-Coder-1.5B (LLM4AD bin packing, benchmarks/discovery_runs):
    # kept, the line "(code)" ran as an expression and the heuristic failed with NameError.
    real = (
        "(code)\nimport numpy as np\n\ndef priority(item: float, bins: np.ndarray) -> "
        "np.ndarray:\n    return item - bins"
    )
    assert strip_echo(real, "heuristic0", True) == real[len("(code)\n") :]
    resolved = resolve_suggestion({"heuristic0": real}, CODE_ONLY)
    assert resolved.suggestion == {"heuristic0": real[len("(code)\n") :]}
    # not for values that are not code, nor when the rest is not Python
    assert strip_echo(real, "a0", False) == real
    assert strip_echo("(code)\nnot python at all", "heuristic0", True) == (
        "(code)\nnot python at all"
    )


def test_a_code_key_goes_to_the_sole_code_variable_only_when_its_value_is_code():
    code = "def strange_sort_list(lst):\n    return lst"
    assert resolve_suggestion({"code": code}, NAMES).suggestion == {"__code0": code}
    assert resolve_suggestion({"code": "sort it better"}, NAMES).suggestion == {
        "code": "sort it better"
    }
    two = PromptNames(variables=("__code0", "__code1"), code_variables=("__code0", "__code1"))
    assert resolve_suggestion({"code": code}, two).suggestion == {"code": code}


def test_a_code_key_whose_value_names_a_computed_value_is_read_as_that_name():
    """Seen in a real run: ``"code": "(float) subtract2 = 5.64"`` (the output)."""
    resolved = resolve_suggestion({"code": "(float) eval0 = 5.64"}, NAMES)
    assert resolved.suggestion == {"eval0": "5.64"}


@pytest.mark.parametrize(
    "text",
    [
        "(" + " " * 200_000,
        "(code)" + " " * 200_000 + "__code0",
        "(" + "a " * 100_000,
        "`" * 100_000 + "a0" + "`" * 100_000,
        "__code0:" + " " * 200_000,
        "a" * 200_000 + "!",
    ],
)
def test_hostile_keys_and_values_are_read_in_linear_time(text):
    started = time.monotonic()
    resolve_suggestion({text: text, "code": text, "float": text, "a0": text}, NAMES)
    assert time.monotonic() - started < 2.0


def test_a_string_parameter_whose_text_defines_a_function_holds_code():
    from opto.trace import node

    heuristic = node(
        "import numpy as np\n\ndef priority(item, bins):\n    return item - bins\n",
        trainable=True,
        name="heuristic",
    )
    prompt = node("Answer briefly.", trainable=True, name="prompt")
    names = PromptNames.of_problem(None, [heuristic, prompt])
    assert names.code_variables == (heuristic.py_name,)


def test_an_optimizer_step_drops_the_code_label_from_a_string_holding_code():
    # The LLM4AD run's reply, end to end: the heuristic is a trainable string (shown as "(str)"),
    # the model answered with "(code)" on the first line of the new code.
    import json

    from opto.llm import DummyLLM
    from opto.optimizers import OptoPrime
    from opto.trace import node

    seed = "def priority(item, bins):\n    return item - bins\n"
    new = "import numpy as np\n\ndef priority(item, bins):\n    return -np.arange(len(bins))\n"
    heuristic = node(seed, trainable=True, name="heuristic")
    reply = {"reasoning": "first fit", "suggestion": {heuristic.py_name: "(code)\n" + new}}
    optimizer = OptoPrime([heuristic], llm=DummyLLM(lambda *a, **k: json.dumps(reply)))
    optimizer.zero_feedback()
    optimizer.backward(heuristic, "Score -2091.8; use fewer bins.")
    optimizer.step()
    assert heuristic.data == new
