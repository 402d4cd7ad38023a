"""What a proposal's code must be before anything runs, and when two proposals are the same.

Checked here, in the calling process and without running the code: it parses, it is not too
long, exactly one top-level function takes the loss's five arguments, and it passes the static
safety check (imports limited to ``numpy`` and ``math``, no ``open``/``exec``/dunder tricks).
The static check is a filter that gives precise feedback; containment comes from the sandbox the
code later runs in.

Two proposals are the same when their code is, once comments, docstrings, formatting and the
loss function's own name are ignored (:func:`normalize_code`); the archive keys on its hash.
"""

from __future__ import annotations

import ast
import hashlib

from opto.discovery.errors import LossContractError
from opto.utils.source_analysis import docstring_statement, parse, positional_count
from opto.utils.source_analysis import functions as top_level_functions

LOSS_PARAMETERS = (
    "policy_chosen_logps",
    "policy_rejected_logps",
    "reference_chosen_logps",
    "reference_rejected_logps",
    "beta",
)
ALLOWED_IMPORTS = frozenset({"math", "numpy"})
MAX_CODE_CHARS = 20_000
_CANONICAL_NAME = "loss"


def loss_function_name(code: str, preferred: str | None = None) -> str:
    """The name of the function in ``code`` that implements the loss.

    It is the one top-level ``def`` with five positional parameters (helpers with other
    signatures are fine). When several qualify, the one called ``preferred`` wins. Raises
    ``SyntaxError`` for code that does not parse and :class:`LossContractError` otherwise.
    """
    if len(code) > MAX_CODE_CHARS:
        raise LossContractError(
            f"the code is {len(code)} characters long; keep it under {MAX_CODE_CHARS}"
        )
    tree = parse_code(code)
    functions = top_level_functions(tree)
    wanted = ", ".join(LOSS_PARAMETERS)
    candidates = [f for f in functions if positional_count(f) == len(LOSS_PARAMETERS)]
    if not candidates:
        if not functions:
            raise LossContractError(f"the code defines no function; define def loss({wanted})")
        listed = ", ".join(f"{f.name} ({positional_count(f)} parameters)" for f in functions)
        raise LossContractError(
            f"no top-level function takes the five loss arguments ({wanted}); found: {listed}"
        )
    if len(candidates) > 1:
        chosen = [f for f in candidates if f.name == preferred]
        if len(chosen) != 1:
            names = ", ".join(f.name for f in candidates)
            raise LossContractError(
                f"several functions take five arguments ({names}); define one loss function"
            )
        candidates = chosen
    function = candidates[0]
    if isinstance(function, ast.AsyncFunctionDef):
        raise LossContractError(f"the loss {function.name!r} must be a plain def, not async def")
    return function.name


def parse_code(code: str) -> ast.Module:
    """``ast.parse(code)``, with every way it can refuse a string raised as ``SyntaxError``."""
    return parse(code, "<proposal>")


def static_problems(code: str) -> str | None:
    """The static safety check's findings as one message, or None when the code passes.

    It is the runtime's ``StaticChecker`` (the rules of ``StaticCheckPolicy``, listed in
    docs/runtime.md) with numpy and math as the only imports.
    """
    from opto.runtime.errors import UnsafeCodeError
    from opto.runtime.static_check import StaticChecker

    violations = StaticChecker(allowed_imports=ALLOWED_IMPORTS).check(code, filename="<proposal>")
    if not violations:
        return None
    return str(UnsafeCodeError(violations)) + "\nOnly numpy (as np) and math may be imported."


def normalize_code(code: str) -> str:
    """The code without comments, docstrings, annotations and formatting; the loss renamed ``loss``.

    Code that does not parse is normalised by its non-blank lines, stripped.
    """
    try:
        tree = parse_code(code)
    except SyntaxError:
        return _stripped_lines(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            _drop_docstring(node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
        elif isinstance(node, ast.arg):
            node.annotation = None
    try:
        name = loss_function_name(code)
    except (SyntaxError, LossContractError):
        name = None
    if name is not None and _CANONICAL_NAME not in _names(tree):
        _rename(tree, name, _CANONICAL_NAME)
    try:
        return ast.unparse(tree)
    except RecursionError:
        return _stripped_lines(code)


def _stripped_lines(code: str) -> str:
    return "\n".join(line.strip() for line in code.splitlines() if line.strip())


def code_hash(code: str) -> str:
    """SHA-256 of ``code`` after :func:`normalize_code`: equal for proposals that are the
    same loss written with other blank lines or indentation."""
    return hashlib.sha256(normalize_code(code).encode("utf-8", "surrogatepass")).hexdigest()


def _drop_docstring(node: ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
    body = node.body
    if docstring_statement(node) is not None:
        del body[0]
        if not body and not isinstance(node, ast.Module):
            body.append(ast.Pass())


def _names(tree: ast.Module) -> set[str]:
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    names |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    return names


def _rename(tree: ast.Module, old: str, new: str) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == old:
            node.name = new
        elif isinstance(node, ast.Name) and node.id == old:
            node.id = new
