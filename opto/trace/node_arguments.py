"""How the arguments of the node constructors become a node's fields.

Trace 0.1's ``constraint=`` argument folds into the description, an operation's inputs
(given by name or as a list) become a name-to-node dict, and an exception becomes the
``(Type) message`` text an ``ExceptionNode`` holds. They need no node class of their own,
so ``opto.trace.nodes`` imports them from here; ``format_exception_data`` is also re-exported
there, at Trace's import path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opto.utils.rendering import render_text
from opto.utils.user_warnings import warn_user


def with_constraint(description: str | None, constraint: str | None) -> str | None:
    """Map Trace's old ``constraint=`` argument onto the description: ``constraint`` alone
    becomes it, and is appended on a new line to a ``description`` (with a deprecation
    warning either way)."""
    if constraint is None:
        return description
    warn_user(
        "constraint= is deprecated; the description now holds the constraint text",
        DeprecationWarning,
    )
    return constraint if description is None else f"{description}\n{constraint}"


def as_input_dict(inputs: Mapping[str, Any] | Iterable[Any], node_class: type) -> dict[str, Any]:
    """An operation's ``inputs`` by argument name: a mapping is copied, a list is named by
    its nodes' names. Every input must be an instance of ``node_class`` (TypeError)."""
    if isinstance(inputs, Mapping):
        named = dict(inputs)
    else:
        named = {}
        for item in inputs:
            if not isinstance(item, node_class):
                raise TypeError(f"inputs must be nodes, got {type(item).__name__}: {item!r}")
            named[item.name] = item
    for key, item in named.items():
        if not isinstance(item, node_class):
            raise TypeError(f"input {key!r} must be a node, got {type(item).__name__}")
    return named


def format_exception_data(error: BaseException) -> str:
    """``"(TypeError) message"`` for ``error``; non-builtin classes are shown as
    ``module.Class``."""
    cls = type(error)
    type_name = (
        cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    return f"({type_name}) {render_text(error)}"


__all__ = ["as_input_dict", "format_exception_data", "with_constraint"]
