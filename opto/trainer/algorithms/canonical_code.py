"""A canonical form of Python source: two programs that differ only in the names of their
local variables, their formatting, comments and docstrings, or the order of statements that do
not depend on each other get the same form.

What counts as the same program, concretely:

- comments, docstrings, annotations and formatting are dropped;
- the names a function binds (its parameters, assigned variables, loop targets, helper
  functions it defines) are renamed ``v0, v1, ...`` in order of first appearance; names it
  only reads (``np``, ``math``, builtins, globals) keep their names; top-level functions are
  renamed ``f0, f1, ...`` so a renamed function is the same function;
- within a block, statements move past each other when neither writes a name the other reads
  or writes, and neither is a bare expression (a call for its effect), an attribute or item
  assignment, ``return``, ``raise``, ``break``, ``continue``, ``del``, ``global`` or a
  compound statement (``if``, ``for``, ``with``, ``try``...); among statements free to move,
  the order is fixed by their text with names abstracted.

It is a filter for search, not a proof of equivalence: calls on the right of an assignment are
taken to be free of effects, which holds for the numerical code it is meant for. Code that does
not parse gets its stripped non-blank lines as its form.
"""

from __future__ import annotations

import ast
import hashlib

BARRIERS = (
    ast.Return,
    ast.Raise,
    ast.Break,
    ast.Continue,
    ast.Delete,
    ast.Global,
    ast.Nonlocal,
    ast.Expr,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.Assert,
    ast.Import,
    ast.ImportFrom,
    ast.ClassDef,
)


def canonical_code(source: str) -> str:
    """The canonical form of ``source`` (see the module docstring)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return _stripped(source)
    try:
        _strip(tree)
        _rename_top_level(tree)
        tree.body = _canonical_order(tree.body, frozenset())
        for function in [n for n in ast.walk(tree) if isinstance(n, _FUNCTIONS)]:
            _canonicalize_function(function)
        return ast.unparse(tree)
    except RecursionError:
        return _stripped(source)


def canonical_hash(source: str) -> str:
    """SHA-256 of ``canonical_code(source)``."""
    return hashlib.sha256(canonical_code(source).encode("utf-8", "surrogatepass")).hexdigest()


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _stripped(source: str) -> str:
    return "\n".join(line.strip() for line in source.splitlines() if line.strip())


def _strip(tree: ast.AST) -> None:
    """Drop docstrings and annotations (comments and formatting are gone with the parse)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        has_docstring = (
            isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        )
        if has_docstring:
            del body[0]
            if not body and not isinstance(node, ast.Module):
                body.append(ast.Pass())
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
        elif isinstance(node, ast.arg):
            node.annotation = None


def _rename_top_level(tree: ast.Module) -> None:
    names = {}
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            names.setdefault(statement.name, f"f{len(names)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            node.name = names[node.name]
        elif isinstance(node, ast.Name) and node.id in names:
            node.id = names[node.id]


def _bound_names(function: ast.AST) -> set[str]:
    """The names a function binds (parameters, assignment and loop targets, nested defs)."""
    bound = set()
    args = function.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            bound.add(arg.arg)
    for node in _own_nodes(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node is not function:
            bound.add(node.name)
    return bound


def _own_nodes(function: ast.AST):
    """The nodes of ``function``'s body, not descending into nested functions' bodies."""
    body = function.body if isinstance(function.body, list) else [function.body]
    stack = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _FUNCTIONS):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _canonicalize_function(function: ast.AST) -> None:
    """Rename the parameters by position, put the body's blocks in canonical order (local
    names abstracted, so the order does not depend on them), then rename the other names the
    function binds in order of first appearance."""
    bound = _bound_names(function)
    args = function.args
    parameters = [*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg]
    mapping = {}
    for position, arg in enumerate(a for a in parameters if a is not None):
        mapping[arg.arg] = f"p{position}"
        arg.arg = mapping[arg.arg]
    for node in _own_nodes(function):
        if isinstance(node, ast.Name) and node.id in mapping:
            node.id = mapping[node.id]
    if isinstance(function.body, list):
        hidden = frozenset(bound - set(mapping))
        for node in [function, *_own_nodes(function)]:
            for field in ("body", "orelse", "finalbody"):
                block = getattr(node, field, None)
                if node is not function and isinstance(node, _FUNCTIONS):
                    continue
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    setattr(node, field, _canonical_order(block, hidden))
    renamed: dict[str, str] = {}
    for node in _own_nodes(function):
        if isinstance(node, ast.Name) and node.id in bound and node.id not in mapping:
            node.id = renamed.setdefault(node.id, f"v{len(renamed)}")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in bound:
            node.name = renamed.setdefault(node.name, f"v{len(renamed)}")


def _reads_writes(statement: ast.stmt) -> tuple[set[str], set[str]]:
    reads, writes = set(), set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Name):
            (writes if isinstance(node.ctx, ast.Store | ast.Del) else reads).add(node.id)
    if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
        reads.add(statement.target.id)
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
        writes.add(statement.name)
    return reads, writes


def _movable(statement: ast.stmt) -> bool:
    if isinstance(statement, BARRIERS):
        return False
    targets = getattr(statement, "targets", None) or [getattr(statement, "target", None)]
    return all(isinstance(t, ast.Name | ast.Tuple | ast.List) for t in targets if t is not None)


def _independent(first: ast.stmt, second: ast.stmt) -> bool:
    reads1, writes1 = _reads_writes(first)
    reads2, writes2 = _reads_writes(second)
    return not (writes1 & (reads2 | writes2) or writes2 & reads1)


def _sort_key(statement: ast.stmt, hidden: frozenset[str]) -> str:
    """The statement's text with the ``hidden`` names (locals renamed later) abstracted."""
    copy = ast.parse(ast.unparse(statement)).body[0]
    for node in ast.walk(copy):
        if isinstance(node, ast.Name) and node.id in hidden:
            node.id = "_"
    return ast.unparse(copy)


def _canonical_order(block: list[ast.stmt], hidden: frozenset[str]) -> list[ast.stmt]:
    """``block`` with movable runs of statements in canonical dependency order."""
    ordered: list[ast.stmt] = []
    run: list[ast.stmt] = []
    for statement in [*block, None]:
        if statement is not None and _movable(statement):
            run.append(statement)
            continue
        ordered.extend(_topological(run, hidden))
        run = []
        if statement is not None:
            ordered.append(statement)
    return ordered


def _topological(run: list[ast.stmt], hidden: frozenset[str]) -> list[ast.stmt]:
    """Statements of a run in the order that puts, among those whose dependencies are
    placed, the smallest sort key first (ties keep their order)."""
    remaining = list(range(len(run)))
    keys = [_sort_key(s, hidden) for s in run]
    placed: list[int] = []
    while remaining:
        ready = [
            i for i in remaining if all(_independent(run[j], run[i]) for j in remaining if j < i)
        ]
        chosen = min(ready, key=lambda i: keys[i])
        placed.append(chosen)
        remaining.remove(chosen)
    return [run[i] for i in placed]
