"""Helpers that training algorithms call, with the names and behaviour of Trace's
``opto.trainer.utils``: run calls in parallel (``async_run``, ``batch_run``), join a batch into
one node (``batchify``), average scores that may be missing (``safe_mean``), and copy a model
or carry an update from one copy of a model to another (``deepcopy_module``,
``remap_update_dict``, ...).

Copies of a model keep their parameters' names, so a parameter is matched with its copies by
name: ``get_original_name`` drops the ``_copy`` suffix that ``Node.detach()`` adds.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
from collections.abc import Callable, Sequence
from typing import Any

from opto import trace
from opto.trace.bundle import bundle
from opto.trace.nodes import Node, ParameterNode
from opto.trainer.evaluators import run_calls
from opto.trainer.guide import Guide
from opto.trainer.snapshots import copy_sharing_parameters, materialize
from opto.utils.rendering import render_text

ALLOW_EXTERNAL_DEPENDENCIES = getattr(
    importlib.import_module("opto.trace.bundle"), "ALLOW_EXTERNAL_DEPENDENCIES", None
)
"""The external-dependency switch of ``opto.trace.bundle`` as it was when this module was
imported, as in Trace, where this module copies it at import (None: each bundle decides). Read
or set the live switch with ``opto.trace.disable_external_dependencies_check``."""

__all__ = [
    "ALLOW_EXTERNAL_DEPENDENCIES",
    "async_run",
    "batch_run",
    "batchify",
    "create_module_from_update_dict",
    "deepcopy_module",
    "get_original_name",
    "id_lines",
    "is_module_copy",
    "is_node_copy",
    "remap_update_dict",
    "safe_mean",
    "set_module_parameters",
    "trace",
]


def id_lines(items: list[Any]) -> str:
    """``items`` as ``"ID [0]: a\\nID [1]: b\\n"``: how a batch is shown as one text."""
    return "".join(f"ID [{index}]: {render_text(item)}\n" for index, item in enumerate(items))


@bundle()
def batchify(*items: Any) -> str:
    """Lists the results of a batch, one per line, each tagged with its example number
    ("ID [i]: ..."), so that one feedback text can refer to each example."""
    return id_lines(list(items))


def safe_mean(x: Any, missing_value: Any = None) -> Any:
    """The mean of the numbers in ``x`` (nested lists and arrays are flattened), skipping None.

    Args:
        x: a number, None, or a (nested) list, tuple or numpy array of them.
        missing_value: what to return when there is no number to average.
    """
    numbers = [value for value in _flatten(x) if value is not None]
    if not numbers:
        return missing_value
    return float(sum(numbers) / len(numbers))


def _flatten(x: Any) -> list:
    if hasattr(x, "tolist"):  # numpy arrays and numpy scalars
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        return [value for item in x for value in _flatten(item)]
    return [x]


def async_run(
    runs: Sequence[Callable],
    args_list: Sequence[Sequence] | None = None,
    kwargs_list: Sequence[dict] | None = None,
    max_workers: int | None = None,
    description: str | None = None,
    allow_sequential_run: bool = True,
) -> list:
    """``[runs[i](*args_list[i], **kwargs_list[i]) ...]`` on a thread pool, in input order.

    Args:
        runs: the functions to call.
        args_list: positional arguments per call (default: none).
        kwargs_list: keyword arguments per call (default: none).
        max_workers: the most calls at once (default: the thread pool's default).
        description: label of the progress bar (shown when stderr is a terminal).
        allow_sequential_run: with ``max_workers == 1``, call one after the other in this
            thread instead of starting a pool.

    Each call runs in a copy of the caller's context, so tracing state and usage scopes follow
    it onto the worker thread. The first exception raised is re-raised here.
    """
    count = len(runs)
    args_list = [()] * count if args_list is None else list(args_list)
    kwargs_list = [{}] * count if kwargs_list is None else list(kwargs_list)
    if not len(args_list) == len(kwargs_list) == count:
        raise ValueError(
            f"async_run got {count} functions, {len(args_list)} argument lists and "
            f"{len(kwargs_list)} keyword lists; they must pair up"
        )
    calls = [
        functools.partial(run, *args, **kwargs)
        for run, args, kwargs in zip(runs, args_list, kwargs_list, strict=True)
    ]
    if max_workers == 1 and allow_sequential_run:
        return [call() for call in calls]
    in_context = [(contextvars.copy_context().run, (call,)) for call in calls]
    return run_calls(in_context, None, max_workers, None, description or "Running")


_NOT_BATCHES = (str, bytes, dict, Node, trace.Module, Guide)


def _is_batch(value: Any) -> bool:
    """Lists, tuples, ranges and arrays are batches; text, dicts, nodes and models are not."""
    return (
        hasattr(value, "__len__")
        and hasattr(value, "__getitem__")
        and not isinstance(value, _NOT_BATCHES)
    )


def batch_run(max_workers: int | None = None, description: str | None = None) -> Callable:
    """Decorator: the function is called once per element of its batch arguments, in parallel.

    Args:
        max_workers: the most calls at once (``async_run``).
        description: label of the progress bar.

    Arguments that are lists, tuples or arrays are batches (all of the same length); any other
    argument is passed unchanged to every call. A model or guide in the arguments is copied for
    each call (a model copy shares the parameters and LLM clients), so state a call keeps on
    them does not leak into other calls. Returns the list of results, in batch order.
    """

    def decorator(function: Callable) -> Callable:
        @functools.wraps(function)
        def run_batch(*args: Any, **kwargs: Any) -> list:
            values = list(args) + list(kwargs.values())
            lengths = {len(value) for value in values if _is_batch(value)}
            if not lengths:
                raise ValueError(
                    f"{function.__name__} was run as a batch, but no argument is a list of "
                    "examples; pass at least one list"
                )
            if len(lengths) > 1:
                raise ValueError("All arguments and keyword arguments must have the same length.")
            size = lengths.pop()

            def element(value: Any, index: int) -> Any:
                item = value[index] if _is_batch(value) else value
                if isinstance(item, trace.Module):
                    return copy_sharing_parameters(item)
                return item.copy() if isinstance(item, Guide) else item

            args_list = [tuple(element(a, i) for a in args) for i in range(size)]
            kwargs_list = [{k: element(v, i) for k, v in kwargs.items()} for i in range(size)]
            return async_run(
                [function] * size,
                args_list,
                kwargs_list,
                max_workers=max_workers,
                description=description,
            )

        return run_batch

    return decorator


# -- copies of a model ---------------------------------------------------------------------


def get_original_name(node: Node) -> str:
    """The Python name of the parameter ``node`` without any ``_copy`` suffix
    (``x0_copy1`` -> ``x0``)."""
    name = node.py_name
    cut = name.find("_copy")
    return name if cut == -1 else name[:cut]


def is_node_copy(a: Node, b: Node) -> bool:
    """Whether the nodes ``a`` and ``b`` are copies of one another (or of a common original)."""
    return get_original_name(a) == get_original_name(b)


def is_module_copy(a: trace.Module, b: trace.Module) -> bool:
    """Whether each parameter of ``a`` is a copy of exactly one parameter of ``b`` and back."""
    first, second = a.parameters(), b.parameters()
    matches = [[is_node_copy(p, q) for q in second] for p in first]
    rows_ok = all(sum(row) == 1 for row in matches)
    columns_ok = all(sum(row[j] for row in matches) == 1 for j in range(len(second)))
    return rows_ok and columns_ok


def remap_update_dict(
    base_module: trace.Module, update_dict: dict[ParameterNode, Any]
) -> dict[ParameterNode, Any]:
    """``update_dict`` re-keyed by ``base_module``'s own parameters.

    A key may be a parameter of a copy of the module (or the module's own); keys that match
    no parameter of the module are dropped, so an empty result means nothing applies.
    """
    parameters = base_module.parameters()
    remapped: dict[ParameterNode, Any] = {}
    for key, value in update_dict.items():
        match = next((p for p in parameters if is_node_copy(key, p)), None)
        if match is not None:
            remapped[match] = value
    return remapped


def set_module_parameters(agent: trace.Module, update_dict: dict[ParameterNode, Any]) -> None:
    """Write the values of ``update_dict`` (keys may belong to a copy) into ``agent``."""
    for parameter, value in remap_update_dict(agent, update_dict).items():
        parameter.set_data(value)


def deepcopy_module(agent: trace.Module) -> trace.Module:
    """An independent copy of the model ``agent``, whose parameters keep the original names.

    LLM clients the model holds are shared with the copy rather than copied.
    """
    return materialize(agent, None)


def create_module_from_update_dict(
    agent: trace.Module, update_dict: dict[ParameterNode, Any]
) -> trace.Module:
    """A copy of ``agent`` with ``update_dict`` applied; ``agent`` itself is not changed."""
    duplicate = deepcopy_module(agent)
    set_module_parameters(duplicate, update_dict)
    return duplicate
