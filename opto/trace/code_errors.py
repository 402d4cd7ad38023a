"""Where in a bundle's code an error happened: the text shown as the error's comment.

An optimizer that rewrote a function needs to see which line of *its* code failed. The
error is located in the code string that was compiled (``CompiledCode``), in the current
``__code`` value for errors raised while loading it, or in the function's own source.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from opto.runtime import SandboxError
from opto.trace import source as sources
from opto.trace.trainable_code import CompiledCode


def error_comment(
    error: BaseException,
    *,
    code: str | None,
    compiled: CompiledCode | None,
    fun: Callable,
    original_source: str | None,
) -> str:
    """The code with the failing line marked, and the error (``info["error_comment"]``).

    Args:
        error: the exception the call raised.
        code: the current value of the bundle's ``__code`` parameter (None when the bundle
            is not trainable).
        compiled: what the bundle last compiled, if anything.
        fun: the decorated function.
        original_source: the ``source=`` given to ``bundle``, used when Python has none.
    """
    if code is not None and isinstance(error, (SyntaxError, SandboxError)):
        filename = error.filename if isinstance(error, SyntaxError) else None
        return sources.annotate_error(error, code, filename)
    if compiled is not None and compiled.filename:
        return sources.annotate_error(error, compiled.code, compiled.filename)
    function_code = getattr(fun, "__code__", None)
    if code is not None and function_code is not None:
        first_line = sources.definition_line(fun)
        if first_line is not None:
            return sources.annotate_error(error, code, function_code.co_filename, first_line)
    if function_code is None:
        return sources.annotate_error(error, None, None)
    try:
        text = inspect.getsource(fun)
    except (OSError, TypeError):
        text = original_source
    return sources.annotate_error(
        error, text, function_code.co_filename, function_code.co_firstlineno
    )
