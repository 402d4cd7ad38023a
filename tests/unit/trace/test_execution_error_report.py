"""An error inside a bundled function or an operator is reported once: the ExecutionError's
message holds the original traceback and the chain is not printed a second time; the original
exception stays reachable as ``error.exception``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from opto.trace import ExecutionError, bundle, node

SCRIPT = textwrap.dedent(
    """
    from opto.trace import bundle, node

    @bundle()
    def inner(x):
        return 1 / x

    @bundle()
    def outer(x):
        return inner(x)

    {call}
    """
)


def stderr_of(tmp_path, call: str) -> str:
    script = tmp_path / "program.py"
    script.write_text(SCRIPT.format(call=call))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert result.returncode == 1
    return result.stderr


@pytest.mark.parametrize("call", ["inner(node(0))", "outer(node(0))"])
def test_an_uncaught_error_in_a_bundle_prints_its_traceback_once(tmp_path, call):
    text = stderr_of(tmp_path, call)
    assert text.count("ZeroDivisionError: division by zero") == 1
    assert text.count("return 1 / x") == 1
    assert "direct cause of the following exception" not in text
    assert "During handling of the above exception" not in text
    assert "ExecutionError: (ZeroDivisionError) division by zero" in text


def test_an_uncaught_error_in_an_operator_prints_once(tmp_path):
    text = stderr_of(tmp_path, "node('ten') - 1")
    assert text.count("TypeError: unsupported operand type(s) for -: 'str' and 'int'") == 1
    assert "direct cause" not in text


def test_the_original_exception_is_reachable_and_catchable_by_its_type():
    @bundle()
    def parse(text):
        return int(text)

    with pytest.raises(ExecutionError) as caught:
        parse("ten")
    original = caught.value.exception
    assert isinstance(original, ValueError) and "invalid literal" in str(original)
    assert caught.value.__context__ is original
    assert "Traceback" in str(caught.value) and "return int(text)" in str(caught.value)

    try:
        parse("eleven")
    except ExecutionError as error:
        if not isinstance(error.exception, ValueError):
            raise
        handled = True
    assert handled

    @bundle(catch_execution_error=False)
    def parse_raw(text):
        return int(text)

    with pytest.raises(ValueError, match="invalid literal"):
        parse_raw(node("twelve"))
