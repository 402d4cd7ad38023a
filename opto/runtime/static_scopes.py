"""Scopes of checked code: which names each scope binds, and how.

The static check needs to know what a name refers to: something the code binds itself (a
local, a parameter, a helper), a module it imports, a value of the caller's namespace, or a
builtin. ``analyse`` computes this once per code string, without running anything.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

FUNCTION_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
SCOPE_NODES = (ast.Module, *FUNCTION_SCOPES, ast.ClassDef, *COMPREHENSIONS)


@dataclass(frozen=True)
class ImportedName:
    """A name bound by an import: ``module`` itself, or its attribute ``attribute``."""

    module: str
    attribute: str | None = None


@dataclass
class Scope:
    """The names one scope (module, function, class body, comprehension) binds directly.

    ``is_class`` marks a class body (its names are not visible in nested functions);
    ``bound`` holds every name the scope binds; ``imports`` the names bound by imports, with
    what they import; ``string_constants`` the string literals assigned to a name (so that
    ``getattr(x, name)`` can be checked when ``name`` is a known string); ``other_bindings``
    names also bound some other way (then their value is not known);
    ``declared_outside`` names declared ``global`` or ``nonlocal`` here, and
    ``declared_global`` those declared ``global``.
    """

    is_class: bool = False
    bound: set[str] = field(default_factory=set)
    imports: dict[str, list[ImportedName]] = field(default_factory=dict)
    string_constants: dict[str, list[ast.Constant]] = field(default_factory=dict)
    other_bindings: set[str] = field(default_factory=set)
    declared_outside: set[str] = field(default_factory=set)  # global / nonlocal here
    declared_global: set[str] = field(default_factory=set)

    def constant_strings(self, name: str) -> list[ast.Constant] | None:
        """The string constants ``name`` is ever set to, when it is bound by nothing else."""
        if name in self.other_bindings or name in self.declared_outside:
            return None
        return self.string_constants.get(name)


@dataclass
class CodeFacts:
    """What ``analyse`` found: a scope per scope node, and code-wide facts.

    ``scopes`` maps ``id()`` of each scope node to its :class:`Scope`; ``declared_global``
    holds the names some scope declares ``global``; ``rebound_elsewhere`` the names some
    scope declares ``global`` or ``nonlocal`` (their value can change behind the check);
    ``private_names`` the ``_name`` attributes the code itself defines, which it may use.
    """

    scopes: dict[int, Scope]
    declared_global: set[str]
    rebound_elsewhere: set[str]  # names some scope declares global or nonlocal
    private_names: set[str]  # ``_name`` attributes the code defines on its classes or objects


def analyse(tree: ast.Module) -> CodeFacts:
    """Scopes and facts of ``tree``. May raise RecursionError on absurdly nested code."""
    scopes: dict[int, Scope] = {}
    declared_global: set[str] = set()
    rebound: set[str] = set()
    private: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, SCOPE_NODES):
            scopes[id(node)] = _scope_of(node)
            if isinstance(node, ast.ClassDef):
                private |= {n for n in scopes[id(node)].bound if _is_private(n)}
        elif isinstance(node, ast.Global | ast.Nonlocal):
            rebound.update(node.names)
            if isinstance(node, ast.Global):
                declared_global.update(node.names)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and _is_private(node.attr)
        ):
            private.add(node.attr)
    return CodeFacts(scopes, declared_global, rebound, private)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _scope_of(node: ast.AST) -> Scope:
    scope = Scope(is_class=isinstance(node, ast.ClassDef))
    string_targets: set[int] = set()  # Name nodes assigned a string constant
    pending: list[ast.AST] = []
    if isinstance(node, FUNCTION_SCOPES):
        arguments = node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
        for argument in every:
            _bind(scope, argument.arg)
        pending.extend(node.body if isinstance(node.body, list) else [node.body])
    elif isinstance(node, COMPREHENSIONS):
        pending.extend(generator.target for generator in node.generators)
    else:
        pending.extend(getattr(node, "body", []))
    while pending:  # a stack: a statement is seen before the names inside it
        child = pending.pop()
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            _bind(scope, child.name)
            continue
        if isinstance(child, SCOPE_NODES):
            continue
        _record(scope, child, string_targets)
        pending.extend(ast.iter_child_nodes(child))
    return scope


def _record(scope: Scope, node: ast.AST, string_targets: set[int]) -> None:
    """Note what ``node`` (a direct part of the scope) binds."""
    if isinstance(node, ast.Global | ast.Nonlocal):
        scope.declared_outside.update(node.names)
        if isinstance(node, ast.Global):
            scope.declared_global.update(node.names)
    elif isinstance(node, ast.Assign):
        text = node.value
        if isinstance(text, ast.Constant) and isinstance(text.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    scope.string_constants.setdefault(target.id, []).append(text)
                    string_targets.add(id(target))
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        scope.bound.add(node.id)
        if id(node) not in string_targets:
            scope.other_bindings.add(node.id)
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                _bind(scope, alias.asname, ImportedName(alias.name))
            else:
                top = alias.name.partition(".")[0]
                _bind(scope, top, ImportedName(top))
    elif isinstance(node, ast.ImportFrom):
        for alias in node.names:
            if alias.name != "*":
                imported = ImportedName(node.module or "", alias.name) if not node.level else None
                _bind(scope, alias.asname or alias.name, imported)
    elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
        _bind(scope, node.name)
    elif isinstance(node, ast.MatchMapping) and node.rest:
        _bind(scope, node.rest)


def _bind(scope: Scope, name: str, imported: ImportedName | None = None) -> None:
    scope.bound.add(name)
    scope.other_bindings.add(name)
    if imported is not None:
        scope.imports.setdefault(name, []).append(imported)
