"""The static check of generated code: what it refuses before the code runs, and why.

``StaticChecker.check`` parses the code and refuses, naming each line: imports outside an
allow-list; builtins outside an allow-list; special (``__dunder__``) attributes; private
attributes the code does not define itself; modules reached through attribute chains of allowed
modules (``enum.bltns`` is the builtins module); modules used as values; changes to modules and
to objects the code did not create; getattr-like callables used other than directly with a
literal name; format strings whose fields read refused attributes; strings that typing would
evaluate as code. docs/runtime.md lists exactly what the check guarantees and what it does not.

It is a check, not containment: the subprocess sandbox is the boundary. For code that must be
contained, put a sandbox behind it: ``StaticCheckPolicy(inner=SubprocessPolicy())``.
"""

from __future__ import annotations

import builtins
import logging
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from opto.runtime.errors import UnsafeCodeError, Violation
from opto.runtime.policy import ExecutionPolicy, InProcessPolicy
from opto.runtime.static_rules import (
    DEFAULT_ALLOWED_BUILTINS,
    DEFAULT_ALLOWED_IMPORTS,
    DEFAULT_FORBIDDEN_ATTRIBUTES,
    DEFAULT_FORBIDDEN_MODULES,
    HARMLESS_DUNDER_ATTRIBUTES,
)
from opto.runtime.static_scopes import analyse
from opto.runtime.static_values import ModuleResolver, within
from opto.runtime.static_visitor import RuleVisitor
from opto.utils.source_analysis import code_filename, parse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StaticChecker:
    """The rules of the static check; every set can be replaced or extended.

    ``allowed_imports`` are top-level module names (``"numpy"`` allows ``numpy.linalg``);
    ``forbidden_modules`` are submodules refused even so (``"numpy.f2py"``);
    ``allowed_builtins`` are the builtin names the code may use; ``forbidden_attributes`` are
    attribute names refused in addition to every ``__dunder__`` name and every ``_private``
    name the code does not define; ``max_source_chars`` bounds the code's length.
    """

    allowed_imports: frozenset[str] = DEFAULT_ALLOWED_IMPORTS
    allowed_builtins: frozenset[str] = DEFAULT_ALLOWED_BUILTINS
    forbidden_attributes: frozenset[str] = DEFAULT_FORBIDDEN_ATTRIBUTES
    forbidden_modules: frozenset[str] = DEFAULT_FORBIDDEN_MODULES
    max_source_chars: int = 100_000

    def check(
        self, source: str, namespace: Mapping[str, Any] | None = None, filename: str = "<code>"
    ) -> list[Violation]:
        """Every violation in ``source``, in line order (empty when the code is accepted).

        ``namespace`` lets the check see what free names refer to (a module ``os`` imported
        by the surrounding program is refused like ``import os``). Allowed modules the code
        names are imported to be looked into. Raises ``SyntaxError``. ``filename`` is the
        pseudo file name a syntax error names.
        """
        if len(source) > self.max_source_chars:
            return [Violation(1, f"the code is longer than {self.max_source_chars} characters")]
        tree = parse(source, filename)
        resolver = ModuleResolver(
            self.allowed_imports, self.forbidden_modules, self.allowed_builtins
        )
        try:
            visitor = RuleVisitor(
                self, resolver, analyse(tree), source.splitlines(), namespace or {}
            )
            visitor.visit(tree)
        except RecursionError:
            return [Violation(1, "the code is nested too deeply to be checked")]
        return sorted(visitor.violations, key=lambda violation: violation.line)

    def restricted_builtins(self) -> dict[str, Any]:
        """The builtins a checked function runs with in-process: the allowed names only, an
        ``__import__`` limited to allowed modules, and attribute functions refusing private
        names and changes to modules (a second line behind the static rules)."""
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
        # Also called for imports that C code of allowed modules makes while the checked
        # function runs (numpy imports its private submodules lazily): the top-level package
        # and the forbidden submodules are checked here, private names only statically.
        wanted = [name, *(f"{name}.{item}" for item in fromlist or () if item != "*")]
        refused = [module for module in wanted if not self._importable(module)]
        if level != 0 or refused:
            shown = refused[0] if refused else name
            raise ImportError(f"import of {shown!r} is not allowed in generated code")
        return builtins.__import__(name, globals, locals, fromlist, level)

    def _importable(self, name: str) -> bool:
        top = name.partition(".")[0]
        return top in self.allowed_imports and not within(name, self.forbidden_modules)

    def module_problem(self, name: str) -> str | None:
        """Why importing the module ``name`` is refused, or None when it is allowed."""
        top, _, rest = name.partition(".")
        if top not in self.allowed_imports:
            allowed = ", ".join(sorted(self.allowed_imports))
            return f"import of {name!r} is not allowed (allowed modules: {allowed})"
        for part in rest.split(".") if rest else ():
            if problem := self.attribute_problem(part):
                return f"import of {name!r} is not allowed: {problem}"
        if within(name, self.forbidden_modules):
            return (
                f"import of {name!r} is not allowed: it compiles or loads native code, "
                "or runs programs"
            )
        return None

    def attribute_problem(self, name: str, private_allowed: bool = False) -> str | None:
        """Why accessing attribute ``name`` is refused, or None when it is allowed.

        ``private_allowed``: the code defines this ``_private`` name on its own classes or
        objects and reads it from one of them (the check decides this, not the caller).
        """
        if name.startswith("__") and name.endswith("__"):
            if name in HARMLESS_DUNDER_ATTRIBUTES:
                return None
            return f"access to the special attribute {name!r} is not allowed"
        if name.startswith("_") and not private_allowed:
            return (
                f"access to the private attribute {name!r} is not allowed (only private names "
                "the code defines on its own classes and objects)"
            )
        if name in self.forbidden_attributes:
            return f"access to the attribute {name!r} is not allowed"
        return None


def _refusing_private(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    writes = name in ("setattr", "delattr")

    def checked(target: Any, attribute: Any, *rest: Any) -> Any:
        if isinstance(attribute, str) and attribute.startswith("_"):
            raise AttributeError(f"{name}() of the private attribute {attribute!r} is not allowed")
        if writes and isinstance(target, types.ModuleType):
            raise AttributeError(f"{name}() on the module {target.__name__} is not allowed")
        return function(target, attribute, *rest)

    checked.__name__ = name
    return checked


class StaticCheckPolicy(ExecutionPolicy):
    """Check the code statically, then hand it to ``inner`` (in-process by default).

    With an in-process inner policy the function also runs with restricted builtins (see
    ``StaticChecker.restricted_builtins``). Raises ``UnsafeCodeError`` listing every problem.

    ``checker`` is the :class:`StaticChecker` with the rules (default: the standard rules);
    ``allowed_imports`` and ``allowed_builtins`` replace its lists of modules the code may
    import and builtins it may use, the usual way to admit one more library.
    """

    def __init__(
        self,
        inner: ExecutionPolicy | None = None,
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
        if inner is not None and not isinstance(inner, ExecutionPolicy):
            raise TypeError(
                f"inner must be an execution policy such as SubprocessPolicy(), got {inner!r}"
            )
        self.inner = inner if inner is not None else InProcessPolicy()

    def load(
        self,
        source: str,
        function_name: str,
        namespace: Mapping[str, Any] | None = None,
        *,
        filename: str | None = None,
    ) -> Callable[..., Any]:
        """Check ``source`` and, if no rule is broken, load ``function_name`` from it with the
        inner policy; see :meth:`ExecutionPolicy.load` for ``namespace`` and ``filename``.
        Raises ``UnsafeCodeError`` listing every problem found."""
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
    "DEFAULT_FORBIDDEN_MODULES",
    "StaticCheckPolicy",
    "StaticChecker",
]
