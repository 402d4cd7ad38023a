import asyncio
import contextvars
import inspect
import math
import time
import traceback

import pytest

from opto.runtime import (
    FunctionNotFoundError,
    InProcessPolicy,
    TimeLimitExceeded,
    feedback_text,
)

CODE_WITH_CONTEXT = '''
import re
from collections import Counter

SEPARATOR = re.compile(r"\\W+")


def _words(text):
    return [w for w in SEPARATOR.split(text.lower()) if w]


def top_word(text):
    """The most frequent word, scaled by a helper from the caller's module."""
    word, count = Counter(_words(text)).most_common(1)[0]
    return word, scale(count)
'''


def test_extra_imports_and_helpers_in_the_code_string_work():
    function = InProcessPolicy().load(CODE_WITH_CONTEXT, "top_word", {"scale": lambda n: n * 10})
    assert function("a b a. A!") == ("a", 30)
    assert function.__doc__.startswith("The most frequent word")


def test_the_function_sees_the_namespace_but_does_not_change_it():
    namespace = {"math": math, "OFFSET": 1}
    code = "COUNTER = 0\ndef f(x):\n    global COUNTER\n    COUNTER += 1\n    return math.floor(x) + OFFSET\n"
    function = InProcessPolicy().load(code, "f", namespace)
    assert function(2.7) == 3
    assert function(2.7) == 3
    # state persists between calls, as in Trace (the guard wraps the loaded function)
    assert function.__wrapped__.__globals__["COUNTER"] == 2
    assert "COUNTER" not in namespace and "f" not in namespace


def test_signature_and_async_are_visible_through_the_guard():
    policy = InProcessPolicy()
    function = policy.load("def f(a, b=2, *, c):\n    return a + b + c\n", "f")
    assert str(inspect.signature(function)) == "(a, b=2, *, c)"
    coroutine = policy.load("async def g(x):\n    return x\n", "g")
    assert inspect.iscoroutinefunction(coroutine)
    assert asyncio.run(coroutine(5)) == 5


def test_exceptions_keep_their_type_and_the_traceback_quotes_the_code():
    function = InProcessPolicy().load("def f(d):\n    return d['missing']\n", "f")
    with pytest.raises(KeyError) as caught:
        function({})
    text = "".join(traceback.format_exception(caught.value))
    assert "return d['missing']" in text
    feedback = feedback_text(caught.value)
    assert feedback.startswith("KeyError: 'missing'")
    assert "line 2, in f" in feedback


def test_syntax_errors_and_missing_functions_are_typed():
    with pytest.raises(SyntaxError):
        InProcessPolicy().load("def f(:\n", "f")
    with pytest.raises(FunctionNotFoundError, match=r"named 'f'.*It defines: g"):
        InProcessPolicy().load("def g():\n    pass\n", "f")
    with pytest.raises(FunctionNotFoundError):
        InProcessPolicy().load("f = 3\n", "f")


def test_errors_in_top_level_statements_surface_at_load():
    with pytest.raises(ZeroDivisionError):
        InProcessPolicy().load("X = 1 / 0\ndef f():\n    return X\n", "f")


def test_timeout_guard_returns_and_interrupts_a_pure_python_loop():
    function = InProcessPolicy(timeout=0.2).load(
        "def spin(state):\n    while True:\n        state['steps'] = state.get('steps', 0) + 1\n",
        "spin",
    )
    state: dict = {}
    with pytest.raises(TimeLimitExceeded) as caught:
        function(state)
    assert caught.value.limit == 0.2
    assert _stops_changing(state), "the interrupted loop kept running"


def _stops_changing(state: dict, patience: float = 5.0) -> bool:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        before = state["steps"]
        time.sleep(0.05)
        if state["steps"] == before:
            return True
    return False


def test_a_call_blocked_in_c_is_stopped_when_the_c_call_returns():
    # time.sleep is one C call: the interrupt can only be raised once it returns.
    function = InProcessPolicy(timeout=0.1).load(
        "import time\ndef f():\n    time.sleep(0.5)\n", "f"
    )
    with pytest.raises(TimeLimitExceeded, match="stopped at line 3"):
        function()


def test_timeout_guard_passes_results_errors_and_context_through():
    marker = contextvars.ContextVar("marker", default="unset")
    marker.set("caller")
    policy = InProcessPolicy(timeout=5)
    assert policy.load("def f():\n    return marker.get()\n", "f", {"marker": marker})() == "caller"
    with pytest.raises(ValueError, match="nope"):
        policy.load("def f():\n    raise ValueError('nope')\n", "f")()


def test_timeout_guard_cancels_a_coroutine():
    function = InProcessPolicy(timeout=0.1).load(
        "import asyncio\nasync def f():\n    await asyncio.sleep(10)\n", "f"
    )
    assert inspect.iscoroutinefunction(function)
    with pytest.raises(TimeLimitExceeded):
        asyncio.run(function())


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        InProcessPolicy(timeout=0)
    with pytest.raises(ValueError, match="positive"):
        InProcessPolicy(memory_growth=-1)


def test_without_limits_it_returns_the_plain_function():
    function = InProcessPolicy(timeout=None, memory_growth=None).load(
        "def f():\n    return 1\n", "f"
    )
    assert not hasattr(function, "__wrapped__")
    assert function.__globals__["__name__"] == "__generated__"


def test_annotations_stay_real_objects():
    # Regression: compile() used to inherit the runtime's `from __future__ import annotations`.
    function = InProcessPolicy().load("def f(x: int) -> float:\n    return x / 2\n", "f")
    assert function.__annotations__ == {"x": int, "return": float}
