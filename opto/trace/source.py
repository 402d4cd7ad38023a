"""Source code of bundled functions: finding it, compiling it, and annotating errors in it.

Trace needed ``inspect.getsource``, so functions defined in a REPL, ``python -c`` or an
``exec``'d string could not be bundled. Here the source comes from ``inspect``, else from
``linecache`` (where IPython, notebooks and Python 3.13's REPL keep it), else from the
``source=`` argument of ``bundle``; with none of these the error says which to use.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
import traceback
from collections.abc import Callable
from types import TracebackType

from opto.utils.errors import OptoError


class SourceUnavailableError(OptoError, OSError):
    """The source of a function to bundle as trainable cannot be found."""


def function_source(fun: Callable, explicit: str | None = None) -> str:
    """The dedented source of ``fun`` without decorators; ``explicit``, when given, is used
    instead (for functions defined where Python keeps no source)."""
    if explicit is not None:
        return strip_decorators(textwrap.dedent(explicit).strip("\n"))
    try:
        text = inspect.getsource(fun)
    except (OSError, TypeError):
        text = _from_linecache(fun)
    return strip_decorators(textwrap.dedent(text).strip("\n"))


def _from_linecache(fun: Callable) -> str:
    code = getattr(fun, "__code__", None)
    lines = linecache.getlines(code.co_filename) if code is not None else []
    if code is None or not lines:
        where = code.co_filename if code is not None else "an unknown place"
        raise SourceUnavailableError(
            f"Cannot find the source of {getattr(fun, '__qualname__', fun)!r} (defined in "
            f"{where}), which a trainable bundle needs. Define it in a file or a notebook "
            "cell, or pass the code explicitly: bundle(trainable=True, source='def ...')."
        )
    block = inspect.getblock(lines[code.co_firstlineno - 1 :])
    return "".join(block)


def definition_line(fun: Callable) -> int | None:
    """The file line of the ``def`` of ``fun`` (after any decorators), or None when the
    source is unknown."""
    code = getattr(fun, "__code__", None)
    if code is None:
        return None
    try:
        raw = textwrap.dedent(inspect.getsource(fun))
    except (OSError, TypeError):
        try:
            raw = textwrap.dedent(_from_linecache(fun))
        except SourceUnavailableError:
            return None
    try:
        definition = ast.parse(raw).body[0]
    except (SyntaxError, IndexError):
        return code.co_firstlineno
    return code.co_firstlineno + definition.lineno - 1


def strip_decorators(source: str) -> str:
    """``source`` without its decorator lines, so the text starts at ``def`` / ``async def``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    if not tree.body or not isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return source
    definition = tree.body[0]
    if not definition.decorator_list:
        return source
    lines = source.splitlines()
    return "\n".join(lines[definition.lineno - 1 :])


def code_header(source: str) -> str:
    """The ``def`` line(s) of ``source`` through the docstring: what an optimizer must keep
    unchanged."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source.splitlines()[0] if source else ""
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return source.splitlines()[0] if source else ""
    lines = source.splitlines()
    first_statement = definition.body[0]
    has_docstring = (
        isinstance(first_statement, ast.Expr)
        and isinstance(first_statement.value, ast.Constant)
        and isinstance(first_statement.value.value, str)
    )
    end = first_statement.end_lineno if has_docstring else first_statement.lineno - 1
    return "\n".join(lines[definition.lineno - 1 : end])


def defined_function_name(source: str) -> str | None:
    """The name of the first function the code ``source`` defines, if any."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return statement.name
    return None


def annotate_error(
    error: BaseException,
    source: str | None,
    filename: str | None,
    first_line: int = 1,
) -> str:
    """``source`` with ``<--- (Type) message`` after the line where ``error`` was raised, then
    the traceback (the traceback alone when the source is unknown).

    ``filename``/``first_line`` locate the code in tracebacks (a file path and the function's
    first line, or a compiled code string with first line 1).
    """
    message = f"({type(error).__name__}) {error}"
    if not source:
        return "".join(traceback.format_exception(type(error), error, error.__traceback__))
    lines = source.splitlines()
    failing = _failing_line(error, filename, first_line, len(lines))
    if failing is None:
        return f"{source}\n\n{message}"
    lines[failing] = f"{lines[failing]}  <--- {message}"
    return "\n".join(lines)


def _failing_line(
    error: BaseException, filename: str | None, first_line: int, count: int
) -> int | None:
    if isinstance(error, SyntaxError) and error.filename == filename and error.lineno:
        index = error.lineno - first_line
        return index if 0 <= index < count else None
    reported = getattr(error, "line", None)
    if isinstance(reported, int) and 0 < reported <= count:
        return reported - 1
    tb: TracebackType | None = error.__traceback__
    found = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            index = tb.tb_lineno - first_line
            if 0 <= index < count:
                found = index
        tb = tb.tb_next
    return found


def lines_through_bundle_decorator(source: str) -> int:
    """How many leading lines of a function's source end with its ``@bundle(...)`` decorator.

    0 when the function is not decorated with ``bundle`` (e.g. ``bundle()(f)``) or the text
    cannot be parsed.
    """
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return 0
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return 0
    end = 0
    for decorator in definition.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if name == "bundle":
            end = decorator.end_lineno or end
    return end
