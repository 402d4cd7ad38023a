import asyncio
import collections
import datetime
import inspect
import json
import math
import textwrap

import pytest

from opto.runtime import (
    FunctionNotFoundError,
    RemoteCodeError,
    RemoteTraceback,
    SubprocessPolicy,
    TransferError,
    feedback_text,
)


def test_plain_values_go_in_and_come_back(sandbox):
    code = (
        "def f(a, b=2, *, c=3):\n    return {'sum': a + b + c, 'items': [a, (b, c)], 'set': {a}}\n"
    )
    assert sandbox.load(code, "f")(1, c=10) == {"sum": 13, "items": [1, (2, 10)], "set": {1}}


def test_common_standard_types_are_accepted_back(sandbox):
    code = (
        "import collections, datetime, decimal\n"
        "def f():\n"
        "    return (collections.OrderedDict(a=1), collections.Counter('aab'),\n"
        "            datetime.date(2024, 1, 2), decimal.Decimal('1.5'), complex(1, 2), b'x')\n"
    )
    ordered, counter, date, decimal, number, raw = sandbox.load(code, "f")()
    assert ordered == collections.OrderedDict(a=1) and counter["a"] == 2
    assert date == datetime.date(2024, 1, 2) and str(decimal) == "1.5"
    assert number == complex(1, 2) and raw == b"x"


def test_the_callable_has_the_code_signature_and_docstring_without_running_it(sandbox):
    code = 'def f(a, b=[1, 2], *rest, k=math.pi, **extra):\n    """Doc."""\n    raise SystemError\n'
    function = sandbox.load(code, "f", {"math": math})
    assert str(inspect.signature(function)) == "(a, b=[1, 2], *rest, k=math.pi, **extra)"
    assert function.__name__ == "f" and function.__doc__ == "Doc."
    assert function.source == code and function.policy is sandbox


def test_load_does_not_run_the_code(sandbox):
    function = sandbox.load("raise RuntimeError('top level')\ndef f():\n    return 1\n", "f")
    with pytest.raises(RuntimeError, match="top level"):
        function()


def test_imports_and_helpers_inside_the_code_and_names_from_the_caller(sandbox):
    code = (
        "import statistics\n"
        "def _spread(xs):\n"
        "    return statistics.pstdev(xs)\n"
        "def f(xs):\n"
        "    return round(_spread(xs) * SCALE, 3), dedent('  x'), json.dumps(xs)\n"
    )
    namespace = {"SCALE": 10, "dedent": textwrap.dedent, "json": json, "unused": object()}
    assert sandbox.load(code, "f", namespace)([1, 2, 3]) == (8.165, "x", "[1, 2, 3]")


def test_a_name_that_cannot_be_sent_is_explained(sandbox):
    def local_helper():
        return 1

    function = sandbox.load(
        "def f():\n    return local_helper()\n", "f", {"local_helper": local_helper}
    )
    with pytest.raises(NameError, match=r"could not be sent to the sandbox.*define or import it"):
        function()


def test_exceptions_keep_type_message_and_the_sandbox_traceback(sandbox):
    code = "def f(d):\n    key = 'missing'\n    return d[key]\n"
    with pytest.raises(KeyError) as caught:
        sandbox.load(code, "f")({})
    error = caught.value
    assert error.args == ("missing",)
    assert isinstance(error.__cause__, RemoteTraceback)
    assert "line 3, in f" in error.sandbox_traceback
    assert "return d[key]" in error.sandbox_traceback
    feedback = feedback_text(error)
    assert feedback.startswith("KeyError: 'missing'") and "return d[key]" in feedback


def test_an_exception_type_that_cannot_be_recreated_is_reported_by_name(sandbox):
    code = "class Custom(Exception):\n    pass\ndef f():\n    raise Custom('boom')\n"
    with pytest.raises(RemoteCodeError) as caught:
        sandbox.load(code, "f")()
    error = caught.value
    assert error.type_name == "__generated__.Custom" and error.error_message == "boom"
    assert error.line == 4 and "raise Custom('boom')" in str(error)


def test_syntax_errors_and_missing_functions_are_found_at_load(sandbox):
    with pytest.raises(SyntaxError):
        sandbox.load("def f(:\n", "f")
    with pytest.raises(FunctionNotFoundError, match="It defines: g"):
        sandbox.load("def g():\n    pass\n", "f")
    with pytest.raises(FunctionNotFoundError, match="'f'"):
        sandbox.load("f = 3\n", "f")()


def test_unpicklable_arguments_and_results_are_transfer_errors(sandbox):
    echo = sandbox.load("def f(x=None):\n    return x\n", "f")
    with pytest.raises(TransferError, match="arguments could not be sent"):
        echo(lambda: 1)
    with pytest.raises(TransferError, match="cannot be sent back"):
        sandbox.load("def f():\n    return (lambda: 1)\n", "f")()


def test_results_of_unknown_types_are_refused_unless_allowed(sandbox):
    code = "import fractions\ndef f():\n    return fractions.Fraction(1, 3)\n"
    with pytest.raises(TransferError, match=r"result_types=\('fractions.Fraction',\)"):
        sandbox.load(code, "f")()
    allowed = SubprocessPolicy(result_types=("fractions.Fraction",), echo_output=False)
    assert str(allowed.load(code, "f")()) == "1/3"


def test_numpy_arrays_need_opting_in():
    numpy = pytest.importorskip("numpy")
    code = "import numpy as np\ndef f():\n    return np.arange(3) * 2\n"
    with pytest.raises(TransferError, match=r"'numpy\.ndarray'"):
        SubprocessPolicy(echo_output=False).load(code, "f")()
    policy = SubprocessPolicy(result_types=("numpy.ndarray",), echo_output=False)
    assert numpy.array_equal(policy.load(code, "f")(), [0, 2, 4])


def test_results_larger_than_the_limit_are_refused():
    policy = SubprocessPolicy(max_result_size="100kB", echo_output=False)
    assert len(policy.load("def f(n):\n    return 'x' * n\n", "f")(1000)) == 1000
    with pytest.raises(TransferError, match="100 kB limit"):
        policy.load("def f(n):\n    return 'x' * n\n", "f")(200_000)


def test_large_arguments_cross_the_boundary(sandbox):
    text = "y" * (3 * 2**20)
    assert sandbox.load("def f(s):\n    return len(s)\n", "f")(text) == len(text)


def test_printed_output_is_replayed_and_kept_on_errors(capsys):
    policy = SubprocessPolicy(wall_time=2.0)
    code = "def f(x):\n    print('working on', x)\n    if x < 0:\n        raise ValueError('negative')\n    return x\n"
    function = policy.load(code, "f")
    assert function(3) == 3
    assert capsys.readouterr().out == "working on 3\n"
    with pytest.raises(ValueError) as caught:
        function(-1)
    assert caught.value.sandbox_output == "working on -1\n"


def test_async_functions_stay_async(sandbox):
    code = "import asyncio\nasync def f(x):\n    await asyncio.sleep(0)\n    return x + 1\n"
    function = sandbox.load(code, "f")
    assert inspect.iscoroutinefunction(function)
    assert asyncio.run(function(1)) == 2


def test_calls_from_several_threads_are_independent(sandbox):
    from concurrent.futures import ThreadPoolExecutor

    function = sandbox.load("def f(i):\n    return i * i\n", "f")
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(function, range(8))) == [i * i for i in range(8)]


def test_each_call_gets_a_fresh_process_and_working_directory(sandbox, private_tmp):
    code = (
        "import os\nSTATE = []\n"
        "def f():\n    STATE.append(1)\n    open('note.txt', 'a').write('x')\n"
        "    return len(STATE), open('note.txt').read(), os.getcwd()\n"
    )
    function = sandbox.load(code, "f")
    first, second = function(), function()
    assert first[:2] == second[:2] == (1, "x")
    assert first[2] != second[2] and first[2].startswith(str(private_tmp))
    sandbox.close()  # warm children waiting for calls have working directories of their own
    assert list(private_tmp.iterdir()) == []  # every working directory was removed


def test_invalid_settings_are_refused_clearly():
    with pytest.raises(ValueError, match="wall_time"):
        SubprocessPolicy(wall_time=0)
    with pytest.raises(ValueError, match="size"):
        SubprocessPolicy(memory="lots")
    with pytest.raises(ValueError, match="Unknown sandbox layer"):
        SubprocessPolicy(disable_layers=("firewall",))
    assert SubprocessPolicy(memory="1GiB").memory == 2**30
    assert SubprocessPolicy(memory="256MB").memory == 256_000_000


def test_a_missing_interpreter_is_reported_as_unavailable():
    from opto.runtime import SandboxUnavailableError

    policy = SubprocessPolicy(python="/nonexistent/python3", echo_output=False)
    with pytest.raises(SandboxUnavailableError, match="could not start"):
        policy.load("def f():\n    return 1\n", "f")()


def test_the_environment_is_not_passed_on(monkeypatch, sandbox):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    code = "import os\ndef f():\n    return os.environ.get('OPENAI_API_KEY'), os.environ.get('EXTRA')\n"
    assert sandbox.load(code, "f")() == (None, None)
    extra = SubprocessPolicy(env={"EXTRA": "yes"}, echo_output=False)
    assert extra.load(code, "f")() == (None, "yes")


def test_numeric_kernel_settings_reach_the_child_so_it_computes_like_the_parent(
    monkeypatch, sandbox
):
    """OpenBLAS picks its kernels from OPENBLAS_CORETYPE; a child without it may round
    differently from the parent (seen with numpy 2.4 on a machine that sets it)."""
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("NPY_DISABLE_CPU_FEATURES", "AVX512F")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "8")
    code = (
        "import os\ndef f():\n    return [os.environ.get(k) for k in "
        "('OPENBLAS_CORETYPE', 'NPY_DISABLE_CPU_FEATURES', 'OPENBLAS_NUM_THREADS')]\n"
    )
    assert sandbox.load(code, "f")() == ["Haswell", "AVX512F", "1"]  # threads stay at one
