"""Decoding what the sandbox child sends back, without trusting it.

Everything the child writes may have been forged by the code it ran, so nothing it sends is
unpickled with the stock unpickler (that would run arbitrary callables in the parent).
``safe_loads`` only resolves an explicit allow-list of globals, chosen so that no allowed
callable can turn a small message into a large allocation or a long computation.
"""

from __future__ import annotations

import io
import pickle
import sys
from collections.abc import Iterable

# Callables safe to call with any arguments found in a bounded message.
_BASE_GLOBALS = frozenset(
    {
        ("builtins", "complex"),
        ("builtins", "slice"),
        ("builtins", "list"),
        ("builtins", "tuple"),
        ("builtins", "dict"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "int"),
        ("builtins", "float"),
        ("builtins", "str"),
        ("builtins", "bool"),
        ("collections", "OrderedDict"),
        ("collections", "deque"),
        ("collections", "Counter"),
        ("collections", "defaultdict"),
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("decimal", "Decimal"),
    }
)
# What naming "numpy.ndarray" as a result type admits. Opt-in: a forged array header can make
# the parent allocate a large (object) array before its contents are checked.
_NUMPY_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }
)


class RefusedGlobal(pickle.UnpicklingError):
    """The message names a class or function that is not on the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        self.qualified_name = f"{module}.{name}"
        super().__init__(f"{self.qualified_name} is not an allowed type")


class _AllowListUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, allowed: frozenset[tuple[str, str]]) -> None:
        super().__init__(io.BytesIO(data))
        self._allowed = allowed

    def find_class(self, module: str, name: str):
        key = (module, name)
        if key in self._allowed and (module.partition(".")[0] != "numpy" or "numpy" in sys.modules):
            return super().find_class(module, name)
        raise RefusedGlobal(module, name)

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent references are not accepted")


def allowed_globals(extra: Iterable[str] = ()) -> frozenset[tuple[str, str]]:
    """The default allow-list plus ``extra`` entries written as ``"module.QualName"``.

    Classes from modules the parent has not imported are imported when first met, as the
    stock unpickler would; only name classes whose import and ``__setstate__`` you trust.
    """
    pairs = set(_BASE_GLOBALS)
    for dotted in extra:
        module, _, name = dotted.rpartition(".")
        if not module:
            raise ValueError(f"result type {dotted!r} must be written as 'module.Name'")
        pairs.add((module, name))
        if dotted == "numpy.ndarray":
            pairs |= _NUMPY_GLOBALS
    return frozenset(pairs)


def safe_loads(data: bytes, allowed: frozenset[tuple[str, str]]):
    """Unpickle ``data`` resolving only ``allowed`` globals; raise UnpicklingError otherwise."""
    return _AllowListUnpickler(data, allowed).load()


def plain_loads(data: bytes):
    """Unpickle a message made only of plain containers, strings and numbers."""
    return _AllowListUnpickler(data, frozenset()).load()
