"""Helpers kept at Trace's import path ``opto.trace.utils``."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Any

from opto.trace.nodes import Node
from opto.trace.step_view import render_opt_step
from opto.trace.text_helpers import (
    dedent,
    escape_json_nested_quotes,
    parse_eqs_to_dict,
    remove_non_ascii,
    test_json_quote_escaper,
)

__all__ = [
    "builtins_list",
    "contain",
    "dedent",
    "escape_json_nested_quotes",
    "for_all_methods",
    "global_functions_list",
    "parse_eqs_to_dict",
    "remove_non_ascii",
    "render_opt_step",
    "sum_feedback",
    "test_json_quote_escaper",
]

builtins_list: list[str] = dir(builtins)
"""The names of Python's builtins."""

global_functions_list: list[str] = [
    name for name in builtins_list if callable(getattr(builtins, name))
]
"""The builtins that can be called (functions, types and exception classes)."""


def contain(container_of_nodes: Iterable[Any], node: Node) -> bool:
    """Whether ``node`` itself is in ``container_of_nodes``.

    ``node in container`` compares data (``Node.__eq__``); this compares identity.
    """
    return any(element is node for element in container_of_nodes)


def sum_feedback(nodes: Iterable[Node]) -> Any:
    """The sum of all feedback the nodes received (0 when there is none).

    Feedback objects add with ``+`` (TraceGraphs merge, numbers add, strings concatenate).
    """
    return sum(
        (
            feedback
            for item in nodes
            for received in (item._feedback or {}).values()
            for feedback in received
        ),
        0,
    )


def for_all_methods(decorator: Callable[[Callable], Any]) -> Callable[[type], type]:
    """A class decorator that applies ``decorator`` to every method of the class.

    Every callable in the class body whose name does not start with ``__`` is replaced by
    ``decorator(method)`` (single-underscore methods included); the class is returned.
    """

    def decorate(cls: type) -> type:
        for name, member in list(vars(cls).items()):
            if callable(member) and not name.startswith("__"):
                setattr(cls, name, decorator(member))
        return cls

    return decorate
