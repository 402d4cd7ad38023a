"""Projections for code parameters (``Projection`` is importable from here too, as in Trace)."""

from __future__ import annotations

from typing import Any

from opto.trace.projections.projections import Projection
from opto.utils.source_analysis import docstring_statement, first_function, parse

__all__ = ["BlackCodeFormatter", "DocstringProjection", "Projection"]


class BlackCodeFormatter(Projection):
    """Formats Python code with black (needs the ``format`` extra: ``pip install black``).

    Text that is not valid Python is returned unchanged; formatting never breaks a value.
    ``line_length`` is black's maximum line length.
    """

    def __init__(self, line_length: int = 88) -> None:
        try:
            import black
        except ImportError as error:
            raise ImportError(
                "BlackCodeFormatter needs black: pip install 'opto[format]' (or pip install black)"
            ) from error
        self._black = black
        self.line_length = line_length

    def project(self, x: Any) -> Any:
        if not isinstance(x, str) or not _is_python(x):
            return x
        mode = self._black.Mode(line_length=self.line_length)
        try:
            return self._black.format_str(x, mode=mode).rstrip("\n")
        except self._black.InvalidInput:
            return x


class DocstringProjection(Projection):
    """Keeps a function's docstring fixed, whatever docstring a suggestion carries."""

    def __init__(self, docstring: str) -> None:
        self.docstring = docstring

    def project(self, x: Any) -> Any:
        if not isinstance(x, str):
            return x
        try:
            tree = parse(x)
        except SyntaxError:
            return x
        definition = first_function(tree)
        if definition is None:
            return x
        lines = x.splitlines()
        first = definition.body[0]
        indent = " " * first.col_offset
        docstring = [f'{indent}"""{self.docstring}"""']
        if docstring_statement(definition) is not None:
            lines[first.lineno - 1 : first.end_lineno] = docstring
        else:
            lines[first.lineno - 1 : first.lineno - 1] = docstring
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"DocstringProjection({self.docstring!r})"


def _is_python(text: str) -> bool:
    try:
        parse(text)
    except SyntaxError:
        return False
    return True
