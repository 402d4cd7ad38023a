"""What the names in checked code refer to, looked up on the real modules without running it.

Python modules import each other, so an allowed module leads to others through its attributes
(``enum.bltns`` is the builtins module, ``re.copyreg`` a module that is not allowed). The static
check follows every attribute chain that starts at a module, a class of a module, or a value of
the caller's namespace, and judges what each step reaches. Lookups read module and class
dictionaries only: no property, ``__getattr__`` or other code of the looked-up object runs.
Allowed modules (and their allowed submodules) are imported to be looked into.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opto.runtime.static_rules import DANGEROUS_MODULES
from opto.runtime.static_scopes import ImportedName

MISSING = object()
"""What a lookup returns when the check cannot tell what a name or attribute refers to."""

_BUILTIN_NAMES = {
    id(value): name
    for name, value in vars(builtins).items()
    if callable(value) and not name.startswith("__")
}
_BUILTIN_NAMES[id(builtins.__import__)] = "__import__"
_BUILTIN_NAMES[id(builtins.__build_class__)] = "__build_class__"


@dataclass(frozen=True)
class UnloadedModule:
    """A module the check knows exists but did not import (it is not allowed); ``name`` is
    its dotted name, used in the refusal."""

    name: str


class ModuleResolver:
    """Looks up modules, their attributes and submodules for one check.

    ``allowed_imports`` are the top-level packages the code may use; ``forbidden_modules``
    submodules of those it still may not (``numpy`` is allowed, ``numpy.ctypeslib`` is not);
    ``allowed_builtins`` the builtins it may call. Only allowed modules are ever imported.
    """

    def __init__(
        self,
        allowed_imports: Iterable[str],
        forbidden_modules: Iterable[str],
        allowed_builtins: Iterable[str],
    ) -> None:
        self.allowed_imports = frozenset(allowed_imports)
        self.forbidden_modules = frozenset(forbidden_modules)
        self.allowed_builtins = frozenset(allowed_builtins)
        self.submodules: dict[str, bool] = {}  # whether a dotted name is a submodule

    def module_allowed(self, name: str) -> bool:
        """Whether the code may use the module ``name`` (top-level package allowed, and not a
        forbidden submodule)."""
        top = name.partition(".")[0]
        return top in self.allowed_imports and not within(name, self.forbidden_modules)

    def module(self, name: str) -> Any:
        """The module ``name``, imported when allowed, else an ``UnloadedModule`` (MISSING when
        an allowed module cannot be imported)."""
        if not self.module_allowed(name):
            return UnloadedModule(name)
        if name in sys.modules:
            return sys.modules[name]
        try:
            return importlib.import_module(name)
        except Exception:  # a module that fails to import fails when the code runs too
            return MISSING

    def imported(self, imported: ImportedName) -> Any:
        """What the import statement binding ``imported`` gives the code: the module, or its
        attribute when ``imported`` names one."""
        module = self.module(imported.module)
        if imported.attribute is None or module is MISSING:
            return module
        return self.attribute(module, imported.attribute)

    def attribute(self, value: Any, name: str) -> Any:
        """``value.name`` read from dictionaries only, for modules and classes; else MISSING."""
        if isinstance(value, UnloadedModule):
            return MISSING
        if isinstance(value, types.ModuleType):
            namespace = vars(value)
            if name in namespace:
                return namespace[name]
            module_name = getattr(value, "__name__", None)
            if not isinstance(module_name, str):
                return MISSING
            submodule = f"{module_name}.{name}"
            if submodule not in self.submodules:  # looking for one touches the filesystem
                self.submodules[submodule] = _exists(submodule)
            return self.module(submodule) if self.submodules[submodule] else MISSING
        if isinstance(value, type):
            for klass in value.__mro__:
                if name in vars(klass):
                    found = vars(klass)[name]
                    if isinstance(found, staticmethod | classmethod):
                        return found.__func__
                    return found
        return MISSING

    def problem(self, value: Any, shown: str) -> str | None:
        """Why the code may not reach ``value`` (written ``shown`` in the code), or None."""
        if isinstance(value, UnloadedModule):
            return f"{shown} is the module {value.name}, which is not allowed"
        if isinstance(value, types.ModuleType):
            name = getattr(value, "__name__", "?")
            if not isinstance(name, str) or not self.module_allowed(name):
                return f"{shown} is the module {name}, which is not allowed"
            return None
        builtin = _BUILTIN_NAMES.get(id(value))
        if builtin is not None and getattr(builtins, builtin, None) is value:
            if builtin in self.allowed_builtins:
                return None
            return f"{shown} is the builtin {builtin!r}, which is not allowed"
        origin = _module_of(value)
        if origin and (
            origin.partition(".")[0] in DANGEROUS_MODULES or within(origin, self.forbidden_modules)
        ):
            return f"{shown} comes from the module {origin}, which is not allowed"
        return None


def within(name: str, modules: Iterable[str]) -> bool:
    """Whether the module ``name`` is one of ``modules`` or a submodule of one."""
    return any(name == module or name.startswith(module + ".") for module in modules)


def is_module(value: Any) -> bool:
    """Whether ``value`` is a module, imported or known only by name."""
    return isinstance(value, types.ModuleType | UnloadedModule)


def _module_of(value: Any) -> str | None:
    try:
        module = getattr(value, "__module__", None)
    except Exception:  # an object of the caller whose attribute lookup fails
        return None
    return module if isinstance(module, str) else None


def _exists(name: str) -> bool:
    """Whether the submodule ``name`` exists; its parent package is already imported."""
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:  # a parent that is not a package, an odd name
        return False
