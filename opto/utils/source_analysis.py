"""Reading function source without running it: the one module that parses and analyses code.

Every part of opto that looks at source text goes through here: the execution policies
(compile, the function a string defines, its signature, the names it uses), bundles (the
``def`` header an optimizer must keep, decorators to drop), the optimizers (a rewrite keeps
the function's name and parameters), projections (a function's docstring) and discovery (a
loss's parameters, code identity). So all of them agree on what a piece of code defines, and
every way Python refuses a string is the same ``SyntaxError``.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import inspect
import linecache
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType

FunctionDef = ast.FunctionDef | ast.AsyncFunctionDef


def code_filename(source: str, function_name: str) -> str:
    """A stable pseudo file name for the code string ``source`` defining ``function_name``:
    tracebacks show it and its lines, and the same code always gets the same name."""
    digest = hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"<generated code of {function_name} {digest}>"


def parse(source: str, filename: str = "<code>") -> ast.Module:
    """Parse ``source``; every way Python refuses a string is a ``SyntaxError`` naming
    ``filename``, so generated code always gets feedback instead of crashing the caller."""
    with _refusals_as_syntax_errors(filename):
        return ast.parse(source, filename=filename)


def compile_source(source: str, filename: str) -> CodeType:
    """Compile ``source`` under the pseudo file name ``filename`` and register its lines so
    tracebacks can quote them."""
    with _refusals_as_syntax_errors(filename):
        # dont_inherit: this module's ``from __future__ import annotations`` must not leak in.
        code = compile(source, filename, "exec", dont_inherit=True)
    register_lines(source, filename)
    return code


@contextmanager
def _refusals_as_syntax_errors(filename: str) -> Iterator[None]:
    """Null bytes and lone surrogates raise ``ValueError``; deep nesting ``RecursionError`` or
    ``MemoryError``, at depths that differ between Python versions."""
    try:
        yield
    except SyntaxError:
        raise
    except ValueError as error:
        raise SyntaxError(f"the code cannot be parsed: {error}", (filename, 1, 0, None)) from None
    except (RecursionError, MemoryError):
        raise SyntaxError(
            "the code is nested too deeply to be parsed", (filename, 1, 0, None)
        ) from None


def register_lines(source: str, filename: str) -> None:
    """Make ``linecache`` (and so every traceback) able to show lines of ``source`` under
    the pseudo file name ``filename``."""
    # An mtime of None marks the entry as not backed by a file, so checkcache keeps it.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def top_level_names(tree: ast.Module) -> list[str]:
    """Names bound by the top-level statements of the parsed module ``tree``, in order."""
    names: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(statement.name)
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            for alias in statement.names:
                names.append(alias.asname or alias.name.partition(".")[0])
        else:
            for node in ast.walk(statement):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.append(node.id)
    return names


def find_function(tree: ast.Module, name: str) -> FunctionDef | None:
    """The last top-level ``def name`` in the parsed module ``tree`` (the one a module would
    end up with), or None."""
    found = None
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and statement.name == name:
            found = statement
    return found


def referenced_names(tree: ast.AST) -> set[str]:
    """Every plain name the code in ``tree`` mentions; a superset of the globals it can read."""
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
    return names


class _SourceDefault:
    """A default value known only as source text (the code has not been run)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def signature_of(source: str, function: FunctionDef) -> inspect.Signature:
    """The signature of ``function`` read from the syntax tree, without running anything.

    Literal defaults are real values; other defaults are placeholders showing their source.
    """
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    defaults += list(arguments.defaults)
    parameters = []
    kind = inspect.Parameter
    for index, (argument, default) in enumerate(zip(positional, defaults, strict=True)):
        parameter_kind = (
            kind.POSITIONAL_ONLY
            if index < len(arguments.posonlyargs)
            else kind.POSITIONAL_OR_KEYWORD
        )
        parameters.append(kind(argument.arg, parameter_kind, default=_default(source, default)))
    if arguments.vararg is not None:
        parameters.append(kind(arguments.vararg.arg, kind.VAR_POSITIONAL))
    for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        parameters.append(kind(argument.arg, kind.KEYWORD_ONLY, default=_default(source, default)))
    if arguments.kwarg is not None:
        parameters.append(kind(arguments.kwarg.arg, kind.VAR_KEYWORD))
    return inspect.Signature(parameters)


def _default(source: str, node: ast.expr | None):
    if node is None:
        return inspect.Parameter.empty
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _SourceDefault(ast.get_source_segment(source, node) or "...")


# -- functions in a module ------------------------------------------------------------------


def functions(tree: ast.Module) -> list[FunctionDef]:
    """The top-level ``def`` and ``async def`` statements of the parsed module ``tree``, in
    order (methods and nested functions are not included)."""
    return [s for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]


def first_function(tree: ast.Module) -> FunctionDef | None:
    """The first top-level function of the parsed module ``tree``, or None."""
    found = functions(tree)
    return found[0] if found else None


def positional_count(function: FunctionDef) -> int:
    """How many parameters ``function`` takes positionally (not counting ``*args``)."""
    return len(function.args.posonlyargs) + len(function.args.args)


def parameter_text(function: FunctionDef) -> str:
    """The parameter names and kinds of ``function``, without annotations or defaults:
    ``a, b, *c, d, **e`` (``*`` alone before keyword-only names when there is no ``*args``)."""
    args = function.args
    parts = [a.arg for a in (*args.posonlyargs, *args.args)]
    if args.vararg:
        parts.append("*" + args.vararg.arg)
    elif args.kwonlyargs:
        parts.append("*")
    parts.extend(a.arg for a in args.kwonlyargs)
    if args.kwarg:
        parts.append("**" + args.kwarg.arg)
    return ", ".join(parts)


def def_line(function: FunctionDef) -> str:
    """The ``def`` line of ``function`` as Python writes it (annotations and defaults kept,
    decorators and body left out), e.g. ``def fib4(n: int):``."""
    header = copy.copy(function)
    header.decorator_list = []
    header.body = [ast.Pass()]
    return ast.unparse(header).split("\n", 1)[0]


def docstring_statement(
    node: ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
) -> ast.Expr | None:
    """The statement holding the docstring of ``node`` (a string as its first statement)."""
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first
    return None


# -- the source of one function -------------------------------------------------------------


def _leading_function(source: str) -> FunctionDef | None:
    """The function ``source`` starts with (dedented), or None when it does not parse or
    does not start with one."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    first = tree.body[0] if tree.body else None
    return first if isinstance(first, ast.FunctionDef | ast.AsyncFunctionDef) else None


def definition_offset(source: str) -> int | None:
    """Lines between the start of ``source`` and its ``def`` line (its decorators), or None
    when ``source`` does not start with a function."""
    definition = _leading_function(source)
    return None if definition is None else definition.lineno - 1


def strip_decorators(source: str) -> str:
    """``source`` from its ``def`` / ``async def`` line on (decorator lines dropped)."""
    definition = _leading_function(source)
    if definition is None or not definition.decorator_list:
        return source
    return "\n".join(source.splitlines()[definition.lineno - 1 :])


def code_header(source: str) -> str:
    """The ``def`` line(s) of the function ``source`` starts with, through its docstring:
    what an optimizer must keep unchanged. Its first line when ``source`` does not start with
    a function."""
    definition = _leading_function(source)
    if definition is None:
        return source.splitlines()[0] if source else ""
    lines = source.splitlines()
    docstring = docstring_statement(definition)
    end = docstring.end_lineno if docstring is not None else definition.body[0].lineno - 1
    return "\n".join(lines[definition.lineno - 1 : end])


def lines_through_decorator(source: str, decorator_name: str) -> int:
    """How many leading lines of a function's source end with its ``@decorator_name(...)``
    decorator; 0 when it has no such decorator or the text cannot be parsed."""
    definition = _leading_function(source)
    if definition is None:
        return 0
    end = 0
    for decorator in definition.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if name == decorator_name:
            end = decorator.end_lineno or end
    return end
