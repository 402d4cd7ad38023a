"""The walk over checked code that applies the static check's rules, node by node.

``StaticChecker.check`` (opto.runtime.static_check) parses the code and runs ``RuleVisitor``;
the rules themselves are listed, with what they guarantee, in docs/runtime.md.
"""

from __future__ import annotations

import ast
import builtins
import operator
import string
from collections.abc import Mapping
from typing import Any, Protocol

from opto.runtime.errors import Violation
from opto.runtime.static_rules import (
    ATTRIBUTE_FUNCTIONS,
    FORMAT_METHODS,
    HARMLESS_DUNDER_NAMES,
    WHY_BUILTIN,
)
from opto.runtime.static_scopes import SCOPE_NODES, CodeFacts, ImportedName, Scope
from opto.runtime.static_values import MISSING, ModuleResolver, is_module

_ATTRIBUTE_FUNCTION_OBJECTS = {
    id(builtins.getattr): "getattr",
    id(builtins.hasattr): "hasattr",
    id(builtins.setattr): "setattr",
    id(builtins.delattr): "delattr",
    id(operator.attrgetter): "attrgetter",
    id(operator.methodcaller): "methodcaller",
}
_TARGETED = ("getattr", "hasattr", "setattr", "delattr")  # first argument: the object
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


class RuleVisitor(ast.NodeVisitor):
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
        elif id(value) in _ATTRIBUTE_FUNCTION_OBJECTS:
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
                self.report(node, _shared_change(f"{verb} {_dotted(node)}", node.value))
        elif name in FORMAT_METHODS:
            self.check_format_receiver(node, node.value)
        elif name in ATTRIBUTE_FUNCTIONS and self.resolve(node) is MISSING:
            self.check_attribute_function_use(node, _dotted(node))
        else:
            self.check_value(node, self.resolve(node), _dotted(node))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        """``x[i]`` in ``node``: no item changes on shared objects; strings inside ``typing``
        subscripts are checked as code."""
        if not isinstance(node.ctx, ast.Load):
            if self.resolve(node.value) is not MISSING:
                self.report(
                    node, _shared_change(f"changing an item of {_dotted(node.value)}", node.value)
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

    # -- format strings ----------------------------------------------------------------------

    def check_format_receiver(self, node: ast.AST, receiver: ast.expr) -> None:
        """``receiver.format(...)`` at ``node`` is allowed only when ``receiver`` is a known
        string whose fields read no refused attribute."""
        texts = self.constant_strings(receiver)
        if texts is None:
            self.report(
                node,
                "str.format and format_map are allowed only on a string literal (or a name "
                "set only to literals), because a format string can read attributes; "
                "use an f-string",
            )
            return
        for text in texts:
            if problem := self.format_problem(text):
                self.report(node, problem)

    def constant_strings(self, node: ast.expr) -> list[str] | None:
        """The strings ``node`` can be (a literal, or a name only ever set to literals or
        given one by the namespace), or None when the check cannot know."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if not isinstance(node, ast.Name):
            return None
        scope = self.binding_scope(node.id)
        if scope is None:
            value = self.namespace.get(node.id)
            return [value] if isinstance(value, str) else None
        if node.id in self.facts.rebound_elsewhere:
            return None
        constants = scope.constant_strings(node.id)
        return None if constants is None else [constant.value for constant in constants]

    def format_problem(self, text: str, depth: int = 0) -> str | None:
        """Why the format string ``text`` is refused (a field reads a refused attribute);
        ``depth`` counts nested format specs, which are checked two levels deep."""
        try:
            fields = list(string.Formatter().parse(text))
            for _, field, spec, _ in fields:
                for name in _field_attributes(field or ""):
                    if problem := self.rules.attribute_problem(name):
                        return f"format strings may not read refused attributes: field {field!r}: {problem}"
                if spec and depth < 2 and (problem := self.format_problem(spec, depth + 1)):
                    return problem
        except ValueError as error:
            return f"the format string is malformed ({error})"
        return None

    # -- calls that name attributes with strings ---------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        """A call ``node``: calls of getattr-like functions must name attributes literally."""
        self.called.add(id(node.func))
        kind = self.attribute_function(node.func)
        if kind is not None:
            self.check_attribute_call(node, kind)
        self.generic_visit(node)

    def attribute_function(self, function: ast.expr) -> str | None:
        """Which getattr-like callable ``function`` is, if it is one."""
        value = self.resolve(function)
        if value is not MISSING:
            return _ATTRIBUTE_FUNCTION_OBJECTS.get(id(value))
        if isinstance(function, ast.Attribute) and function.attr in ATTRIBUTE_FUNCTIONS:
            return function.attr  # on an object the check cannot see: judged by its name
        return None

    def check_attribute_call(self, node: ast.Call, kind: str) -> None:
        """The call ``node`` of the getattr-like function ``kind`` (``getattr``,
        ``attrgetter``, ...): its attribute names must be string literals and allowed."""
        index, action = ATTRIBUTE_FUNCTIONS[kind]
        arguments = node.args
        if any(isinstance(argument, ast.Starred) for argument in arguments):
            self.report(node, f"{kind}() with unpacked arguments cannot be checked")
            return
        names = arguments if index is None else arguments[index : index + 1]
        target = arguments[0] if kind in _TARGETED and arguments else None
        if target is not None:
            self.attribute_bases.add(id(target))
        for argument in names:
            if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                self.report(node, f"{kind}() with a computed attribute name cannot be checked")
                continue
            parts = argument.value.split(".") if kind == "attrgetter" else [argument.value]
            for part in parts:
                problem = self.rules.attribute_problem(part)
                if not problem and part in FORMAT_METHODS:
                    problem = f"{kind}() of {part!r} cannot be checked; call it directly"
                if not problem and part in ATTRIBUTE_FUNCTIONS:
                    problem = f"{kind}() of {part!r} is not allowed"
                if problem:
                    self.report(node, problem)
            if target is not None:
                self.check_named_attribute(node, target, argument.value, action)

    def check_named_attribute(self, node: ast.Call, target: ast.expr, name: str, action: str):
        """``getattr(target, "name")`` and friends at ``node``, judged like ``target.name``;
        ``action`` is ``"write"`` for setattr/delattr, which may not change shared objects."""
        base = self.resolve(target)
        if base is MISSING:
            return
        shown = f"{_dotted(target)}.{name}"
        if action == "write":
            self.report(node, _shared_change(f"changing {shown} with a function", target))
        else:
            self.check_value(node, self.resolver.attribute(base, name), shown)


def _shared_change(what: str, owner: ast.expr) -> str:
    return (
        f"{what} is not allowed: {_dotted(owner)} is shared with the rest of the program "
        "(a module, or an object the code did not create)"
    )


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "(expression)"


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


def _field_attributes(field: str) -> list[str]:
    """The attribute names a format field reads: ``"0.a[k].b"`` -> ``["a", "b"]``."""
    cut = min((i for i in (field.find("."), field.find("[")) if i >= 0), default=len(field))
    rest = field[cut:]
    names = []
    while rest:
        if rest[0] == ".":
            ends = [i for i in (rest.find(".", 1), rest.find("[", 1)) if i >= 0]
            end = min(ends, default=len(rest))
            names.append(rest[1:end])
            rest = rest[end:]
        elif rest[0] == "[":
            end = rest.find("]")
            if end < 0:
                raise ValueError("missing ']' in a format field")
            rest = rest[end + 1 :]
        else:
            raise ValueError("unexpected character after a format field index")
    return names


__all__ = ["RuleVisitor", "Rules"]
