"""The walk over checked code that applies the static check's rules, node by node.

``StaticChecker.check`` (opto.runtime.static_check) parses the code and runs ``RuleVisitor``;
the rules themselves are listed, with what they guarantee, in docs/runtime.md. The checks of
format strings and getattr-like calls are in ``CallChecks`` (opto.runtime.static_calls).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Mapping
from typing import Any, Protocol

from opto.runtime.errors import Violation
from opto.runtime.static_calls import (
    ATTRIBUTE_FUNCTION_OBJECTS,
    CallChecks,
    dotted,
    shared_change,
)
from opto.runtime.static_rules import (
    ATTRIBUTE_FUNCTIONS,
    FORMAT_METHODS,
    HARMLESS_DUNDER_NAMES,
    WHY_BUILTIN,
)
from opto.runtime.static_scopes import SCOPE_NODES, CodeFacts, ImportedName, Scope
from opto.runtime.static_values import MISSING, ModuleResolver, is_module

_TYPING_MODULES = ("typing", "typing_extensions")


class Rules(Protocol):
    """What the visitor needs from a ``StaticChecker``."""

    def attribute_problem(self, name: str, private_allowed: bool = False) -> str | None:
        """Why reading the attribute ``name`` is refused, or None; ``private_allowed`` is
        True for a ``_name`` the checked code defines itself."""
        ...

    def module_problem(self, name: str) -> str | None:
        """Why importing the module ``name`` is refused, or None."""
        ...


class RuleVisitor(CallChecks, ast.NodeVisitor):
    """Collects every violation of the rules in one module's AST.

    ``rules`` is the checker whose attribute and module rules apply; ``resolver`` looks up
    what imported names and attribute chains refer to; ``facts`` are the scopes ``analyse``
    found; ``lines`` the code's lines, quoted in each violation; ``namespace`` the globals
    the code will run with, so that a free name is judged by the value it will have.
    """

    def __init__(
        self,
        rules: Rules,
        resolver: ModuleResolver,
        facts: CodeFacts,
        lines: list[str],
        namespace: Mapping[str, Any],
    ) -> None:
        self.rules = rules
        self.resolver = resolver
        self.facts = facts
        self.lines = lines
        self.namespace = namespace
        self.scopes: list[Scope] = []
        self.attribute_bases: set[int] = set()  # X in X.name, or the object of getattr(X, ..)
        self.called: set[int] = set()  # F in F(...)
        self.resolved: dict[int, Any] = {}
        self.kept: list[ast.AST] = []  # trees parsed from strings during the walk
        self.violations: list[Violation] = []
        self._reported: set[tuple[int, str]] = set()

    def report(self, node: ast.AST, message: str) -> None:
        """Record a violation at the line of ``node`` saying ``message`` (once per line and
        message, so a refused name used often is listed once)."""
        line = getattr(node, "lineno", 1)
        if (line, message) in self._reported:
            return
        self._reported.add((line, message))
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.violations.append(Violation(line, message, text))

    # -- scopes ------------------------------------------------------------------------------

    def in_scope(self, node: ast.AST, parts: list[ast.AST | None]) -> None:
        """Visit ``parts`` (None entries skipped) inside the scope that ``node`` opens."""
        self.scopes.append(self.facts.scopes[id(node)])
        for part in parts:
            if part is not None:
                self.visit(part)
        self.scopes.pop()

    def binding_scope(self, name: str) -> Scope | None:
        """The scope whose binding ``name`` refers to here, or None for a free name."""
        innermost = len(self.scopes) - 1
        for index in range(innermost, 0, -1):
            scope = self.scopes[index]
            if scope.is_class and index != innermost:
                continue  # class bodies are not enclosing scopes
            if name in scope.declared_global:
                break
            if name in scope.bound and name not in scope.declared_outside:
                return scope
        module = self.scopes[0]
        return module if name in module.bound or name in self.facts.declared_global else None

    def visit_Module(self, node: ast.Module) -> None:
        """Visit the module ``node``'s statements in its own (global) scope."""
        self.in_scope(node, list(node.body))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """Decorators, defaults and annotations of the function ``node`` belong to the
        enclosing scope; its body to its own."""
        for part in (*node.decorator_list, *getattr(node, "type_params", ())):
            self.visit(part)
        self.visit_signature(node.args)
        if node.returns is not None:
            self.visit_annotation(node.returns)
        self.in_scope(node, list(node.body))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        """Like a function: the lambda ``node``'s defaults outside, its body in its scope."""
        self.visit_signature(node.args)
        self.in_scope(node, [node.body])

    def visit_signature(self, arguments: ast.arguments) -> None:
        """Check the default values and annotations of the parameter list ``arguments``."""
        for default in (*arguments.defaults, *arguments.kw_defaults):
            if default is not None:
                self.visit(default)
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
        for argument in every:
            if argument.annotation is not None:
                self.visit_annotation(argument.annotation)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        """Decorators, bases and keywords of the class ``node`` outside; its body inside."""
        parts = (*node.decorator_list, *getattr(node, "type_params", ()), *node.bases)
        for part in (*parts, *node.keywords):
            self.visit(part)
        self.in_scope(node, list(node.body))

    def visit_comprehension_scope(self, node: ast.AST) -> None:
        """A comprehension ``node`` is a scope, except for its first iterable, which is
        evaluated outside it (Python's own rule)."""
        first, *others = node.generators
        self.visit(first.iter)  # evaluated in the enclosing scope
        parts: list[ast.AST | None] = [first.target, *first.ifs, *others]
        if isinstance(node, ast.DictComp):
            parts += [node.key, node.value]
        else:
            parts.append(node.elt)
        self.in_scope(node, parts)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_comprehension_scope

    # -- annotations: strings in them are code that typing may evaluate ----------------------

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        """Check the target and value of the annotated assignment ``node``, and its
        annotation as a type expression."""
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)
        self.visit_annotation(node.annotation)

    def visit_annotation(self, annotation: ast.expr) -> None:
        """Check ``annotation`` as code, and the strings inside it as the code they name."""
        self.visit(annotation)
        self.check_type_strings(annotation)

    def check_type_strings(self, expression: ast.AST) -> None:
        """Check strings inside a type expression as the code they stand for (forward
        references are evaluated by ``typing.get_type_hints``, ``functools.singledispatch``)."""
        pending = [expression]
        while pending:
            node = pending.pop()
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                self.check_type_string(node)
            elif isinstance(node, ast.Subscript) and _holds_values(node.value):
                self.check_type_strings(node.value)  # Literal["text"] holds values, not types
            else:
                pending.extend(ast.iter_child_nodes(node))

    def check_type_string(self, constant: ast.Constant) -> None:
        """Parse the string ``constant`` of a type expression and check it like code at its
        line; a string that is not an expression is left alone (typing cannot use it)."""
        try:
            parsed = ast.parse(constant.value.strip(), mode="eval")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return  # typing cannot evaluate it either
        self.kept.append(parsed)  # node ids key this walk's tables: keep the nodes alive
        for node in ast.walk(parsed):
            if isinstance(node, SCOPE_NODES):
                self.report(constant, "a type written as a string may not define a function")
                return
            if hasattr(node, "lineno"):
                node.lineno = constant.lineno
        self.visit(parsed.body)
        self.check_type_strings(parsed.body)

    # -- imports -----------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        """Each module the ``import`` statement ``node`` names must be allowed."""
        for alias in node.names:
            if self.check_import(node, alias.name):
                self.check_import_target(node, alias.asname or alias.name.partition(".")[0])

    def check_import(self, node: ast.AST, module: str) -> bool:
        """Report the import of ``module`` at ``node`` if it is refused; True if allowed."""
        problem = self.rules.module_problem(module)
        if problem:
            self.report(node, problem)
        return problem is None

    def check_import_target(self, node: ast.AST, name: str) -> None:
        """Imports bind plain names only: a module bound to a class attribute, or to a global
        or nonlocal name from inside a function, would be out of the check's sight. ``node``
        is the import statement and ``name`` the name it binds."""
        scope = self.scopes[-1]
        if scope.is_class:
            self.report(node, "imports are not allowed in a class body; import at the top")
        elif name in scope.declared_outside:
            self.report(node, f"an import may not bind the global or nonlocal name {name!r}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        """``from M import x`` in ``node``: no relative or star imports, M allowed, and each
        name judged by what it is (a refused builtin or module re-exported by M is refused)."""
        if node.level:
            self.report(node, "relative imports are not allowed")
            return
        module = node.module or ""
        if not self.check_import(node, module):
            return
        for alias in node.names:
            if alias.name == "*":
                self.report(node, f"'from {module} import *' is not allowed: import each name")
            elif problem := self.rules.attribute_problem(alias.name):
                self.report(node, problem.replace("access to", "import of"))
            else:
                self.check_import_target(node, alias.asname or alias.name)
                value = self.resolver.imported(ImportedName(module, alias.name))
                if value is not MISSING and (
                    problem := self.resolver.problem(value, f"{module}.{alias.name}")
                ):
                    self.report(node, problem)

    # -- names -------------------------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        """A plain name ``node``: no special ``__names__``, no refused builtins, and a name
        bound to a module or a value of the namespace is judged by what it refers to."""
        name = node.id
        special = name.startswith("__") and name.endswith("__")
        if not isinstance(node.ctx, ast.Load):
            in_class = bool(self.scopes) and self.scopes[-1].is_class
            if special and not in_class and name not in HARMLESS_DUNDER_NAMES:
                self.report(node, f"assignment to the special name {name!r} is not allowed")
            return
        if name in HARMLESS_DUNDER_NAMES:
            return
        scope = self.binding_scope(name)
        if scope is not None:
            imported = scope.imports.get(name)
            if imported:
                self.check_value(node, self.resolver.imported(imported[0]), name)
            return
        if special:
            self.report(node, f"use of the special name {name!r} is not allowed")
        elif name in self.namespace:
            self.check_value(node, self.namespace[name], name)
        elif hasattr(builtins, name):
            if name not in self.resolver.allowed_builtins:
                reason = WHY_BUILTIN.get(name, "it is not in the allowed builtins")
                self.report(node, f"use of the builtin {name!r} is not allowed: {reason}")
            elif name in ATTRIBUTE_FUNCTIONS:
                self.check_attribute_function_use(node, name)

    def check_value(self, node: ast.expr, value: Any, shown: str) -> None:
        """The rules on what a name or attribute chain reaches (a module, builtin, ...):
        ``node`` is where it is used, ``value`` what it refers to (MISSING: unknown, nothing
        to check) and ``shown`` how the code writes it, for the message."""
        if value is MISSING:
            return
        problem = self.resolver.problem(value, shown)
        if problem:
            self.report(node, problem)
        elif is_module(value) and id(node) not in self.attribute_bases:
            self.report(
                node,
                f"the module {shown} may only be used through its attributes ({shown}.name): "
                "modules are shared with the rest of the program and cannot be passed around",
            )
        elif id(value) in ATTRIBUTE_FUNCTION_OBJECTS:
            self.check_attribute_function_use(node, shown)

    def check_attribute_function_use(self, node: ast.expr, shown: str) -> None:
        """``getattr`` and its kin (``shown`` as written) may only be called directly at
        ``node``, never stored or passed on, or the names they read could not be checked."""
        if id(node) not in self.called:
            self.report(
                node,
                f"{shown} may only be called directly, with literal attribute names; it cannot "
                "be stored, passed or renamed",
            )

    def resolve(self, node: ast.AST) -> Any:
        """What ``node`` refers to when the check can tell (a module, a class, a value of the
        namespace, a builtin), else MISSING."""
        key = id(node)
        if key not in self.resolved:
            self.resolved[key] = self._resolve(node)
        return self.resolved[key]

    def _resolve(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            scope = self.binding_scope(node.id)
            if scope is not None:
                imported = scope.imports.get(node.id)
                return self.resolver.imported(imported[0]) if imported else MISSING
            if node.id in self.namespace:
                return self.namespace[node.id]
            if node.id.startswith("__"):
                return MISSING
            return getattr(builtins, node.id, MISSING)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return MISSING if base is MISSING else self.resolver.attribute(base, node.attr)
        return MISSING

    # -- attributes --------------------------------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        """``x.name`` in ``node``: refused attribute names, changes to shared objects, format
        methods on computed strings, and what the chain reaches."""
        self.attribute_bases.add(id(node.value))
        name = node.attr
        external = self.resolve(node.value) is not MISSING
        private_allowed = name in self.facts.private_names and not external
        problem = self.rules.attribute_problem(name, private_allowed)
        if problem:
            self.report(node, problem)
        elif not isinstance(node.ctx, ast.Load):
            if external:
                verb = "deleting" if isinstance(node.ctx, ast.Del) else "assigning to"
                self.report(node, shared_change(f"{verb} {dotted(node)}", node.value))
        elif name in FORMAT_METHODS:
            self.check_format_receiver(node, node.value)
        elif name in ATTRIBUTE_FUNCTIONS and self.resolve(node) is MISSING:
            self.check_attribute_function_use(node, dotted(node))
        else:
            self.check_value(node, self.resolve(node), dotted(node))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        """``x[i]`` in ``node``: no item changes on shared objects; strings inside ``typing``
        subscripts are checked as code."""
        if not isinstance(node.ctx, ast.Load):
            if self.resolve(node.value) is not MISSING:
                self.report(
                    node, shared_change(f"changing an item of {dotted(node.value)}", node.value)
                )
        elif _module_name(self.resolve(node.value)) in _TYPING_MODULES:
            self.check_type_strings(node)
        self.generic_visit(node)

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        """A class pattern ``node`` reads the attributes it names: the attribute rules apply."""
        for name in node.kwd_attrs:
            if problem := self.rules.attribute_problem(name):
                self.report(node, problem)
        self.generic_visit(node)


def _holds_values(node: ast.expr) -> bool:
    """Whether ``node`` names ``Literal`` or ``Annotated``, whose arguments are not types."""
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
    return name in ("Literal", "Annotated")


def _module_name(value: Any) -> str | None:
    if value is MISSING:
        return None
    try:
        module = getattr(value, "__module__", None)
    except Exception:
        return None
    return module if isinstance(module, str) else None


__all__ = ["RuleVisitor", "Rules"]
