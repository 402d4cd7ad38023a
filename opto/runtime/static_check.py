"""Static checks of generated code: an AST allow-list of imports and builtins.

The check refuses code that imports modules outside an allow-list, calls builtins such as
``open``/``exec``/``eval``/``__import__``, or reaches dunder and private attributes (the usual
way out of any Python restriction). It names every offending line, which makes good feedback.

It is a filter against mistakes and casual escapes, not a security boundary: Python offers
too many indirect routes for a syntax-level allow-list to be provably complete. For code that
must be contained, put a subprocess sandbox behind it:
``StaticCheckPolicy(inner=SubprocessPolicy())``.
"""

from __future__ import annotations

import ast
import builtins
import logging
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from opto.runtime.errors import UnsafeCodeError, Violation
from opto.runtime.policy import ExecutionPolicy, InProcessPolicy, PolicyLike, make_policy
from opto.runtime.source import code_filename, parse

logger = logging.getLogger(__name__)

DEFAULT_ALLOWED_IMPORTS = frozenset(
    (
        "abc",
        "array",
        "bisect",
        "cmath",
        "collections",
        "copy",
        "dataclasses",
        "datetime",
        "decimal",
        "difflib",
        "enum",
        "fractions",
        "functools",
        "heapq",
        "itertools",
        "json",
        "math",
        "numbers",
        "operator",
        "random",
        "re",
        "statistics",
        "string",
        "textwrap",
        "time",
        "typing",
        "unicodedata",
    )
)
_SAFE_BUILTINS = (
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "complex",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "hasattr",
    "hash",
    "hex",
    "id",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "object",
    "oct",
    "ord",
    "pow",
    "print",
    "property",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "zip",
    "Ellipsis",
    "False",
    "None",
    "NotImplemented",
    "True",
)
_EXCEPTIONS = [
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type)
    and issubclass(value, BaseException)
    and name not in ("SystemExit", "KeyboardInterrupt")
]
DEFAULT_ALLOWED_BUILTINS = frozenset((*_SAFE_BUILTINS, *_EXCEPTIONS))

# Attribute names that lead to the filesystem, processes, or interpreter internals.
DEFAULT_FORBIDDEN_ATTRIBUTES = frozenset(
    (
        "sys",
        "os",
        "subprocess",
        "socket",
        "shutil",
        "pathlib",
        "io",
        "codecs",
        "ctypes",
        "importlib",
        "builtins",
        "pickle",
        "marshal",
        "types",
        "inspect",
        "gc",
        "signal",
        "threading",
        "multiprocessing",
        "tempfile",
        "mmap",
        "posix",
        "nt",
        "pty",
        "fcntl",
        "resource",
        "open",
        "system",
        "popen",
        "spawnv",
        "execv",
        "exec",
        "eval",
        "globals",
        "locals",
        "modules",
        "f_globals",
        "f_locals",
        "f_back",
        "f_code",
        "f_builtins",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "ag_code",
        "tb_frame",
        "tb_next",
        "func_globals",
        "load_module",
        "import_module",
    )
)
_HARMLESS_DUNDERS = frozenset({"__init__", "__name__", "__qualname__", "__doc__"})
_HARMLESS_DUNDER_NAMES = frozenset({"__name__", "__doc__", "__slots__", "__all__"})
_WHY_BUILTIN = {
    "open": "file access is not allowed",
    "exec": "running dynamically built code is not allowed",
    "eval": "running dynamically built code is not allowed",
    "compile": "running dynamically built code is not allowed",
    "__import__": "use an import statement of an allowed module",
    "globals": "access to the module namespace is not allowed",
    "locals": "access to the module namespace is not allowed",
    "vars": "access to object namespaces is not allowed",
    "input": "the code cannot read user input",
    "breakpoint": "the code cannot start a debugger",
    "memoryview": "raw memory access is not allowed",
}
# Calls that name an attribute with a string: the string must be a literal passing the
# attribute rule. Value: index of the attribute-name argument (None: every argument).
_ATTRIBUTE_CALLS = {
    "getattr": 1,
    "setattr": 1,
    "delattr": 1,
    "hasattr": 1,
    "attrgetter": None,
    "methodcaller": 0,
}
# Modules whose functions are refused when the code reaches them through ``namespace``.
_DANGEROUS_MODULES = frozenset(
    (
        "os",
        "posix",
        "nt",
        "subprocess",
        "shutil",
        "socket",
        "sys",
        "builtins",
        "io",
        "importlib",
        "ctypes",
        "pickle",
        "marshal",
        "pathlib",
        "tempfile",
        "signal",
        "multiprocessing",
    )
)


@dataclass(frozen=True)
class StaticChecker:
    """The rules of the static check; every set can be replaced or extended.

    ``allowed_imports`` are top-level module names (``"numpy"`` allows ``numpy.linalg``);
    ``allowed_builtins`` are the builtin names the code may use; ``forbidden_attributes`` are
    attribute names refused in addition to every ``__dunder__`` and ``_private`` name.
    """

    allowed_imports: frozenset[str] = DEFAULT_ALLOWED_IMPORTS
    allowed_builtins: frozenset[str] = DEFAULT_ALLOWED_BUILTINS
    forbidden_attributes: frozenset[str] = DEFAULT_FORBIDDEN_ATTRIBUTES
    max_source_chars: int = 100_000

    def check(
        self, source: str, namespace: Mapping[str, Any] | None = None, filename: str = "<code>"
    ) -> list[Violation]:
        """Every violation in ``source``, in line order (empty when the code is accepted).

        ``namespace`` lets the check see what free names refer to (a module ``os`` imported
        by the surrounding program is refused like ``import os``). Raises ``SyntaxError``.
        """
        if len(source) > self.max_source_chars:
            return [Violation(1, f"the code is longer than {self.max_source_chars} characters")]
        tree = parse(source, filename)
        module_names = _bindings(tree) | _declared_global(tree)
        visitor = _Visitor(self, source.splitlines(), module_names, namespace or {})
        try:
            visitor.visit(tree)
        except RecursionError:
            return [Violation(1, "the code is nested too deeply to be checked")]
        return sorted(visitor.violations, key=lambda violation: violation.line)

    def restricted_builtins(self) -> dict[str, Any]:
        """The builtins a checked function runs with in-process: the allowed names only, an
        ``__import__`` limited to allowed modules, and attribute functions refusing private
        names (a second line behind the static rules)."""
        namespace = {
            name: getattr(builtins, name)
            for name in self.allowed_builtins
            if hasattr(builtins, name)
        }
        namespace["__build_class__"] = builtins.__build_class__
        namespace["__import__"] = self._guarded_import
        for name in ("getattr", "setattr", "delattr", "hasattr"):
            if name in namespace:
                namespace[name] = _refusing_private(name, getattr(builtins, name))
        return namespace

    def _guarded_import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level != 0 or name.partition(".")[0] not in self.allowed_imports:
            raise ImportError(f"import of {name!r} is not allowed in generated code")
        return builtins.__import__(name, globals, locals, fromlist, level)

    def attribute_problem(self, name: str, on_self: bool = False) -> str | None:
        """Why accessing attribute ``name`` is refused, or None when it is allowed."""
        if name.startswith("__") and name.endswith("__"):
            if name in _HARMLESS_DUNDERS:
                return None
            return f"access to the special attribute {name!r} is not allowed"
        if name.startswith("_") and not on_self:
            return f"access to the private attribute {name!r} is not allowed"
        if name in self.forbidden_attributes:
            return f"access to the attribute {name!r} is not allowed"
        return None


def _refusing_private(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def checked(target: Any, attribute: Any, *rest: Any) -> Any:
        if isinstance(attribute, str) and attribute.startswith("_"):
            raise AttributeError(f"{name}() of the private attribute {attribute!r} is not allowed")
        return function(target, attribute, *rest)

    checked.__name__ = name
    return checked


_FUNCTION_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPES = (*_FUNCTION_SCOPES, ast.ClassDef, *_COMPREHENSIONS)


def _bindings(scope: ast.AST) -> set[str]:
    """Names bound directly in ``scope`` (not in scopes nested inside it)."""
    names: set[str] = set()
    pending: list[ast.AST] = []
    if isinstance(scope, _FUNCTION_SCOPES):
        arguments = scope.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
        names.update(argument.arg for argument in every)
        pending.extend(scope.body if isinstance(scope.body, list) else [scope.body])
    elif isinstance(scope, _COMPREHENSIONS):
        pending.extend(generator.target for generator in scope.generators)
    else:
        pending.extend(getattr(scope, "body", []))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.partition(".")[0])
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        pending.extend(ast.iter_child_nodes(node))
    return names


def _declared_global(tree: ast.AST) -> set[str]:
    return {name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names}


class _Visitor(ast.NodeVisitor):
    def __init__(
        self,
        checker: StaticChecker,
        lines: list[str],
        module_names: set[str],
        namespace: Mapping[str, Any],
    ) -> None:
        self.checker = checker
        self.lines = lines
        self.module_names = module_names
        self.scopes: list[tuple[bool, set[str]]] = []  # (is a class body, names bound there)
        self.namespace = namespace
        self.violations: list[Violation] = []

    def report(self, node: ast.AST, message: str) -> None:
        line = getattr(node, "lineno", 1)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.violations.append(Violation(line, message, text))

    def check_module(self, node: ast.AST, module: str) -> None:
        if module.partition(".")[0] not in self.checker.allowed_imports:
            allowed = ", ".join(sorted(self.checker.allowed_imports))
            self.report(node, f"import of {module!r} is not allowed (allowed modules: {allowed})")

    def is_bound(self, name: str) -> bool:
        """Whether ``name`` resolves to something the code binds (not to a builtin)."""
        if name in self.module_names:
            return True
        innermost = len(self.scopes) - 1
        return any(
            name in names
            for index, (is_class, names) in enumerate(self.scopes)
            if index == innermost or not is_class  # class bodies are not enclosing scopes
        )

    def visit_scope(self, node: ast.AST) -> None:
        self.scopes.append((isinstance(node, ast.ClassDef), _bindings(node)))
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = visit_scope
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_scope

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.check_module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.report(node, "relative imports are not allowed")
            return
        self.check_module(node, node.module or "")
        for alias in node.names:
            if alias.name != "*" and (problem := self.checker.attribute_problem(alias.name)):
                self.report(node, problem.replace("access to", "import of"))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
        if problem := self.checker.attribute_problem(node.attr, on_self):
            self.report(node, problem)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name in _HARMLESS_DUNDER_NAMES or self.is_bound(name):
            pass
        elif name.startswith("__") and name.endswith("__"):
            self.report(node, f"use of the special name {name!r} is not allowed")
        elif name in self.namespace:
            self.check_namespace_value(node, name, self.namespace[name])
        elif hasattr(builtins, name) and name not in self.checker.allowed_builtins:
            reason = _WHY_BUILTIN.get(name, "it is not in the allowed builtins")
            self.report(node, f"use of the builtin {name!r} is not allowed: {reason}")

    def check_namespace_value(self, node: ast.Name, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType):
            if value.__name__.partition(".")[0] not in self.checker.allowed_imports:
                self.report(node, f"{name!r} is the module {value.__name__}, which is not allowed")
            return
        module = getattr(value, "__module__", None)
        if isinstance(module, str) and module.partition(".")[0] in _DANGEROUS_MODULES:
            self.report(node, f"{name!r} comes from the module {module}, which is not allowed")

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        called = function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)
        if called in _ATTRIBUTE_CALLS:
            index = _ATTRIBUTE_CALLS[called]
            targets = node.args if index is None else node.args[index : index + 1]
            for argument in targets:
                self.check_attribute_argument(node, called, argument)
        self.generic_visit(node)

    def check_attribute_argument(self, node: ast.Call, called: str, argument: ast.expr) -> None:
        if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
            self.report(node, f"{called}() with a computed attribute name cannot be checked")
            return
        for part in argument.value.split("."):
            if problem := self.checker.attribute_problem(part):
                self.report(node, problem)

    def visit_Constant(self, node: ast.Constant) -> None:
        text = node.value
        if isinstance(text, str) and "{" in text and ("__" in text or "._" in text):
            self.report(node, "format strings may not reach private or special attributes")

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        for name in node.kwd_attrs:
            if problem := self.checker.attribute_problem(name):
                self.report(node, problem)
        self.generic_visit(node)


class StaticCheckPolicy(ExecutionPolicy):
    """Check the code statically, then hand it to ``inner`` (in-process by default).

    With an in-process inner policy the function also runs with restricted builtins (see
    ``StaticChecker.restricted_builtins``). Raises ``UnsafeCodeError`` listing every problem.
    """

    def __init__(
        self,
        inner: PolicyLike | None = None,
        *,
        checker: StaticChecker | None = None,
        allowed_imports: Iterable[str] | None = None,
        allowed_builtins: Iterable[str] | None = None,
    ) -> None:
        base = checker or StaticChecker()
        if allowed_imports is not None:
            base = replace(base, allowed_imports=frozenset(allowed_imports))
        if allowed_builtins is not None:
            base = replace(base, allowed_builtins=frozenset(allowed_builtins))
        self.checker = base
        self.inner = make_policy(inner) if inner is not None else InProcessPolicy()

    def load(
        self,
        source: str,
        function_name: str,
        namespace: Mapping[str, Any] | None = None,
        *,
        filename: str | None = None,
    ) -> Callable[..., Any]:
        filename = filename or code_filename(source, function_name)
        violations = self.checker.check(source, namespace, filename)
        if violations:
            logger.info("static check refused %s: %d violation(s)", function_name, len(violations))
            raise UnsafeCodeError(violations)
        scope = dict(namespace or {})
        scope["__builtins__"] = self.checker.restricted_builtins()
        return self.inner.load(source, function_name, scope, filename=filename)

    def __repr__(self) -> str:
        return f"StaticCheckPolicy(inner={self.inner!r})"


__all__ = [
    "DEFAULT_ALLOWED_BUILTINS",
    "DEFAULT_ALLOWED_IMPORTS",
    "DEFAULT_FORBIDDEN_ATTRIBUTES",
    "StaticCheckPolicy",
    "StaticChecker",
]
