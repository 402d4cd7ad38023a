import os

import pytest

from opto.runtime import (
    StaticChecker,
    StaticCheckPolicy,
    SubprocessPolicy,
    UnsafeCodeError,
    feedback_text,
)
from opto.runtime.static_check import DEFAULT_ALLOWED_IMPORTS

ORDINARY = '''
import math
import re
from collections import Counter
from dataclasses import dataclass


@dataclass
class Stats:
    mean: float
    spread: float


class Accumulator:
    def __init__(self):
        self._values = []

    def add(self, value):
        self._values.append(value)
        return self


def summarize(text, input=None):
    """Word statistics; ``input`` shadows the builtin, which is fine."""
    words = [w for w in re.split(r"\\s+", text.strip()) if w]
    lengths = [len(w) for w in words]
    mean = sum(lengths) / len(lengths)
    spread = math.sqrt(sum((x - mean) ** 2 for x in lengths) / len(lengths))
    acc = Accumulator()
    for word in words:
        acc.add(word.upper())
    common = Counter(words).most_common(1)[0][0]
    label = f"{common}:{mean:.1f}"
    if __name__ == "__main__":
        label += "!"
    return Stats(round(mean, 2), round(spread, 2)), label, getattr(acc, "add") is not None
'''


def test_ordinary_math_and_string_code_is_accepted_and_runs():
    stats, label, has_add = StaticCheckPolicy().load(ORDINARY, "summarize")("aa bbb aa c")
    assert (stats.mean, stats.spread, label, has_add) == (2.0, 0.71, "aa:2.0", True)


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("def f():\n    return open('/etc/passwd').read()\n", "builtin 'open'"),
        ("def f():\n    exec('x = 1')\n", "builtin 'exec'"),
        ("def f():\n    return eval('1 + 1')\n", "builtin 'eval'"),
        ("def f():\n    return compile('1', 's', 'eval')\n", "builtin 'compile'"),
        ("def f():\n    return globals()\n", "builtin 'globals'"),
        ("def f():\n    return vars()\n", "builtin 'vars'"),
        ("def f():\n    return __import__('os')\n", "special name '__import__'"),
        ("def f():\n    return __builtins__\n", "special name '__builtins__'"),
        ("import os\ndef f():\n    return 1\n", "import of 'os'"),
        ("import os.path\ndef f():\n    return 1\n", "import of 'os.path'"),
        ("from subprocess import run\ndef f():\n    return 1\n", "import of 'subprocess'"),
        ("from . import sibling\ndef f():\n    return 1\n", "relative imports"),
        ("def f():\n    return ().__class__.__bases__[0].__subclasses__()\n", "'__class__'"),
        ("def f(g):\n    return g.__globals__\n", "'__globals__'"),
        ("def f(x):\n    return getattr(x, '__class__')\n", "'__class__'"),
        ("def f(x, name):\n    return getattr(x, name)\n", "computed attribute name"),
        (
            "import operator\ndef f(x):\n    return operator.attrgetter('__dict__')(x)\n",
            "'__dict__'",
        ),
        ("import random\ndef f():\n    return random._os\n", "private attribute '_os'"),
        ("import typing\ndef f():\n    return typing.sys\n", "attribute 'sys'"),
        ("import json\ndef f():\n    return json.codecs\n", "attribute 'codecs'"),
        ("def f(x):\n    return '{0.__class__}'.format(x)\n", "format strings"),
        (
            "def f(x):\n    match x:\n        case object(__class__=c):\n            return c\n",
            "'__class__'",
        ),
        ("def g():\n    open = 1\ndef f():\n    return open('x')\n", "builtin 'open'"),
        ("def f():\n    return breakpoint()\n", "builtin 'breakpoint'"),
    ],
)
def test_each_forbidden_construct_is_refused_with_its_line(code, fragment):
    with pytest.raises(UnsafeCodeError) as caught:
        StaticCheckPolicy().load(code, "f")
    error = caught.value
    assert any(fragment in violation.message for violation in error.violations), error
    offending = next(v for v in error.violations if fragment in v.message)
    assert offending.line == error.line or offending.line > error.line
    assert f"line {offending.line}" in str(error)
    assert offending.source_line.strip() in code


def test_every_problem_is_listed_in_line_order():
    code = "import os\nimport socket\ndef f():\n    return open('x')\n"
    with pytest.raises(UnsafeCodeError) as caught:
        StaticCheckPolicy().load(code, "f")
    assert [v.line for v in caught.value.violations] == [1, 2, 4]
    assert "3 problems" in feedback_text(caught.value)


def test_names_from_the_namespace_are_checked_too():
    policy = StaticCheckPolicy()
    with pytest.raises(UnsafeCodeError, match="module os"):
        policy.load("def f():\n    return os.getcwd()\n", "f", {"os": os})
    with pytest.raises(UnsafeCodeError, match=r"from the module (posix|nt)"):
        policy.load("def f():\n    return system('true')\n", "f", {"system": os.system})
    assert policy.load("def f(x):\n    return scale(x)\n", "f", {"scale": lambda x: 3 * x})(2) == 6


def test_allow_lists_are_configurable():
    code = "import fnmatch\ndef f(name):\n    return fnmatch.fnmatch(name, '*.py')\n"
    with pytest.raises(UnsafeCodeError, match="import of 'fnmatch'"):
        StaticCheckPolicy().load(code, "f")
    relaxed = StaticCheckPolicy(allowed_imports=DEFAULT_ALLOWED_IMPORTS | {"fnmatch"})
    assert relaxed.load(code, "f")("x.py") is True
    strict = StaticCheckPolicy(allowed_builtins={"len"})
    with pytest.raises(UnsafeCodeError, match="builtin 'sorted'"):
        strict.load("def f(x):\n    return sorted(x)\n", "f")
    assert strict.load("def f(x):\n    return len(x)\n", "f")("abc") == 3


def test_in_process_the_builtins_are_restricted_at_run_time_too():
    policy = StaticCheckPolicy(checker=StaticChecker())
    builtins = policy.checker.restricted_builtins()
    assert "open" not in builtins and "eval" not in builtins
    with pytest.raises(ImportError, match="'os' is not allowed"):
        builtins["__import__"]("os")
    with pytest.raises(AttributeError, match="private attribute"):
        builtins["getattr"](object(), "_secret")


def test_very_long_code_is_refused():
    with pytest.raises(UnsafeCodeError, match="longer than 50"):
        StaticCheckPolicy(checker=StaticChecker(max_source_chars=50)).load("x = 1\n" * 20, "f")


def test_syntax_errors_are_not_hidden():
    with pytest.raises(SyntaxError):
        StaticCheckPolicy().load("def f(:\n", "f")


def test_static_check_in_front_of_the_sandbox(sandbox):
    policy = StaticCheckPolicy(inner=sandbox)
    assert policy.load("import math\ndef f(n):\n    return math.factorial(n)\n", "f")(5) == 120
    with pytest.raises(UnsafeCodeError):
        policy.load("import socket\ndef f():\n    return 1\n", "f")
    assert isinstance(policy.inner, SubprocessPolicy)


DEEP_BODIES = ["+".join(["1"] * 6000), "not " * 4000 + "1", "f" + "()" * 4000, "-" * 5000 + "1"]


@pytest.mark.parametrize("body", DEEP_BODIES, ids=["sum", "not", "calls", "minus"])
def test_deeply_nested_code_is_refused_not_a_crash(body):
    # Where Python's parser gives up depends on its version; either way the code is refused.
    code = f"def f(x):\n    return {body}\n"
    try:
        violations = StaticChecker().check(code)
    except SyntaxError as error:
        assert "too deeply" in str(error)
    else:
        assert [v.message for v in violations] == ["the code is nested too deeply to be checked"]
    with pytest.raises((SyntaxError, UnsafeCodeError), match="too deeply"):
        StaticCheckPolicy().load(code, "f")


def test_code_python_refuses_to_read_is_a_syntax_error():
    from opto.utils.source_analysis import compile_source, parse

    for source in ("x = 1\x00\n", "x = '\ud800'\n"):
        with pytest.raises(SyntaxError):
            parse(source)
        with pytest.raises(SyntaxError):
            compile_source(source, "<test>")
