"""Binding call arguments to a function's parameter names, prepared once per function.

``inspect.Signature.bind`` costs tens of microseconds; bundles bind on every call, so the
signature is read once at decoration and each call only walks a few tuples.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

_EMPTY = inspect.Parameter.empty


class ArgumentBinder:
    """Maps ``(args, kwargs)`` to named inputs: ``*args`` as ``args_0...``, defaults filled in.

    ``fun`` is the function whose signature is read, once, here.
    """

    __slots__ = (
        "defaults",
        "function_name",
        "keyword_only",
        "positional",
        "var_keyword",
        "var_positional",
    )

    def __init__(self, fun: Callable) -> None:
        signature = inspect.signature(fun)
        self.function_name = getattr(fun, "__qualname__", repr(fun))
        self.positional: tuple[str, ...] = ()
        self.keyword_only: tuple[str, ...] = ()
        self.var_positional: str | None = None
        self.var_keyword: str | None = None
        self.defaults: dict[str, Any] = {}
        positional, keyword_only = [], []
        for parameter in signature.parameters.values():
            kind = parameter.kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                self.var_positional = parameter.name
            elif kind is inspect.Parameter.VAR_KEYWORD:
                self.var_keyword = parameter.name
            elif kind is inspect.Parameter.KEYWORD_ONLY:
                keyword_only.append(parameter.name)
            else:
                positional.append(parameter.name)
            if parameter.default is not _EMPTY:
                self.defaults[parameter.name] = parameter.default
        self.positional = tuple(positional)
        self.keyword_only = tuple(keyword_only)

    def bind(self, args: tuple, kwargs: dict) -> tuple[dict[str, Any], list[str]]:
        """``(named values in signature order, names given to extra positional values)`` for
        a call with ``args`` and ``kwargs``."""
        positional = self.positional
        named: dict[str, Any] = {}
        count = min(len(args), len(positional))
        for index in range(count):
            named[positional[index]] = args[index]
        extra: list[str] = []
        if len(args) > len(positional):
            if self.var_positional is None:
                raise TypeError(
                    f"{self.function_name}() takes {len(positional)} positional arguments "
                    f"but {len(args)} were given"
                )
            for index, value in enumerate(args[len(positional) :]):
                key = f"{self.var_positional}_{index}"
                named[key] = value
                extra.append(key)
        for key, value in kwargs.items():
            if key in named:
                raise TypeError(f"{self.function_name}() got multiple values for argument {key!r}")
            if (
                key not in self.defaults
                and key not in positional
                and key not in self.keyword_only
                and self.var_keyword is None
            ):
                raise TypeError(
                    f"{self.function_name}() got an unexpected keyword argument {key!r}"
                )
            named[key] = value
        for key in (*positional, *self.keyword_only):
            if key not in named:
                if key not in self.defaults:
                    raise TypeError(f"{self.function_name}() missing required argument {key!r}")
                named[key] = self.defaults[key]
        ordered = {key: named[key] for key in positional}
        ordered.update((key, named[key]) for key in extra)
        ordered.update((key, named[key]) for key in self.keyword_only)
        ordered.update(named)
        return ordered, extra

    def split(self, named: dict[str, Any], extra: list[str]) -> tuple[list[Any], dict[str, Any]]:
        """Rebuild ``(args, kwargs)`` for calling the function from ``named`` values and the
        names of the ``extra`` positional values (as :meth:`bind` returned them)."""
        args = [named[key] for key in self.positional]
        args.extend(named[key] for key in extra)
        kwargs = {key: value for key, value in named.items() if key not in self.positional}
        for key in extra:
            del kwargs[key]
        return args, kwargs
