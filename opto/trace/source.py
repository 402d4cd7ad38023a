"""Source code of bundled functions: finding it, and marking the line an error came from.

Trace needed ``inspect.getsource``, so functions defined in a REPL, ``python -c`` or an
``exec``'d string could not be bundled. Here the source comes from ``inspect``, else from
``linecache`` (where IPython, notebooks and Python 3.13's REPL keep it), else from the
``source=`` argument of ``bundle``; with none of these the error says which to use.
Analysing the text (decorators, the ``def`` header) is ``opto.utils.source_analysis``'s job.
"""

from __future__ import annotations

import inspect
import linecache
import textwrap
import traceback
from collections.abc import Callable
from types import TracebackType

from opto.utils.errors import OptoError
from opto.utils.source_analysis import definition_offset, strip_decorators


class SourceUnavailableError(OptoError, OSError):
    """The source of a function to bundle as trainable cannot be found."""


def function_source(fun: Callable, explicit: str | None = None) -> str:
    """The dedented source of ``fun`` without decorators.

    Args:
        fun: the function; its source is looked up with ``inspect``, then in ``linecache``
            (``SourceUnavailableError`` when neither has it).
        explicit: source text given by the caller (``bundle``'s ``source=``); when given it
            is used instead of any lookup (default None).
    """
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
    """The file line of the ``def`` of ``fun`` (after any decorators), or None when its
    source is unknown; with it a traceback's line number is found in the bundle's code."""
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
    offset = definition_offset(raw)
    return code.co_firstlineno + (offset or 0)


def annotate_error(
    error: BaseException,
    source: str | None,
    filename: str | None,
    first_line: int = 1,
) -> str:
    """The source with ``<--- (Type) message`` after the line that failed, for the optimizer
    to see where its code broke.

    Without ``source``, the formatted traceback; when no line of ``source`` can be blamed,
    the source followed by the message.

    Args:
        error: the exception the code raised (its traceback, or a ``SyntaxError``'s line,
            says which line failed).
        source: the code that ran, or None when unknown.
        filename, first_line: locate the code in tracebacks (a file path and the function's
            first line, or a compiled code string with first line 1, the default).
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
