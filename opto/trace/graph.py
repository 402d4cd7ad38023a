"""Graph state: name counters and the tracing switch.

Nothing here holds a node. ``GRAPH`` only counts how many nodes of each base name were
created, so that names are unique (``x:0``, ``x:1``) while every graph stays collectable.
Whether operations record edges, and the ``name_scope`` prefixes, are context variables, so
threads and asyncio tasks trace independently and both nest.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import threading
from collections.abc import Iterator
from typing import Any

_TRACING_DEFAULT = True
_TRACING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "opto_tracing", default=_TRACING_DEFAULT
)


class ScopeStack:
    """The ``name_scope`` prefixes of the current thread or asyncio task, used as a list.

    Trace code appends to ``NAME_SCOPES`` and pops from it directly, so it stays a list to
    such code; its contents live in a context variable, so a scope pushed in one thread or
    task never prefixes the names of nodes created in another.
    """

    def __init__(self, scopes: contextvars.ContextVar[tuple[str, ...]]) -> None:
        """Show ``scopes`` (a context variable of prefixes, innermost last) as a list."""
        self._scopes = scopes

    def append(self, scope: str) -> None:
        """Push ``scope``: nodes created in this context are named under it."""
        self._scopes.set((*self._scopes.get(), scope))

    def pop(self, index: int = -1) -> str:
        """Remove and return the scope at ``index`` (default: the innermost)."""
        scopes = list(self._scopes.get())
        removed = scopes.pop(index)
        self._scopes.set(tuple(scopes))
        return removed

    def clear(self) -> None:
        """Drop every scope of this context."""
        self._scopes.set(())

    def __iter__(self) -> Iterator[str]:
        return iter(self._scopes.get())

    def __len__(self) -> int:
        return len(self._scopes.get())

    def __getitem__(self, index: int) -> str:
        return self._scopes.get()[index]

    def __eq__(self, other: object) -> bool:
        return list(self._scopes.get()) == other

    __hash__ = None  # type: ignore[assignment]  # a list is not hashable either

    def __repr__(self) -> str:
        return repr(list(self._scopes.get()))


_NAME_SCOPES: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "opto_name_scopes", default=()
)
NAME_SCOPES = ScopeStack(_NAME_SCOPES)
"""Prefixes for new node names (``scope/name:0``); see :func:`name_scope`."""


def is_tracing() -> bool:
    """True when operations in the current thread or task record their parents."""
    return _TRACING.get()


@contextlib.contextmanager
def stop_tracing() -> Iterator[None]:
    """Run a block without recording edges (ops still return nodes, with no parents).

    Local to the current thread and asyncio task; nested uses restore the outer state.
    """
    token = _TRACING.set(False)
    try:
        yield
    finally:
        _TRACING.reset(token)


@contextlib.contextmanager
def name_scope(scope: str) -> Iterator[None]:
    """Prefix the names of nodes created inside the block with ``scope/``.

    Local to the current thread and asyncio task: a scope opened in one thread does not
    rename the nodes another thread creates meanwhile.
    """
    NAME_SCOPES.append(scope)
    try:
        yield
    finally:
        NAME_SCOPES.pop()


_TRACE_TOKENS: contextvars.ContextVar[tuple[contextvars.Token, ...]] = contextvars.ContextVar(
    "opto_trace_flag_tokens", default=()
)
"""Tokens of the ``GRAPH.TRACE = ...`` assignments not undone yet, in this thread or task."""


class _TraceFlag:
    """``GRAPH.TRACE`` as in Trace, but backed by the tracing context variable.

    Trace code switches tracing off and back on by assignment
    (``GRAPH.TRACE = False`` ... ``GRAPH.TRACE = True``). Assigning a new value keeps the
    context variable's token; assigning back the value that token replaced resets the
    variable with it, so the pair leaves the context as it found it (the variable unset
    again, as in a thread that never traced differently) and repeated switching does not
    pile up state. Like ``stop_tracing``, the flag is local to the thread or asyncio task.
    """

    def __get__(self, obj: object, owner: type | None = None) -> bool:
        return _TRACING.get()

    def __set__(self, obj: object, value: bool) -> None:
        value = bool(value)
        if value == _TRACING.get():
            return
        tokens = _TRACE_TOKENS.get()
        if tokens and _replaced_value(tokens[-1]) == value:
            try:
                _TRACING.reset(tokens[-1])
            except ValueError:  # made in another context (a parent thread's copy)
                pass
            else:
                _TRACE_TOKENS.set(tokens[:-1])
                return
        _TRACE_TOKENS.set((*tokens, _TRACING.set(value)))


def _replaced_value(token: contextvars.Token) -> bool:
    """The tracing value ``token``'s assignment replaced (the default when it was unset)."""
    old = token.old_value
    return _TRACING_DEFAULT if old is contextvars.Token.MISSING else old


def _peek(counter: itertools.count) -> int:
    """The next value of ``counter`` without consuming it (its repr is ``count(n)``)."""
    return int(repr(counter)[6:-1])


class _GraphType(type):
    """Makes ``Graph.TRACE = False`` (on the class) switch tracing too, instead of replacing
    the flag with a plain class attribute."""

    TRACE = _TraceFlag()


class Graph(metaclass=_GraphType):
    """Per-name counters that give nodes unique names; holds no nodes."""

    TRACE = _TraceFlag()
    LEGACY_GRAPH_BEHAVIOR = False
    ALLOW_NESTED_GRAPHS = False

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count] = {}
        self._lock = threading.Lock()

    def reserve(self, base: str) -> tuple[str, int]:
        """Reserve the next free index for ``base`` (scoped by ``name_scope``).

        ``next()`` on an ``itertools.count`` is a single C call, atomic under the GIL, so two
        threads never get the same index; the lock only guards creating a new counter.
        Nodes keep ``(base, index)`` and build the ``base:index`` string only when asked.
        """
        scopes = _NAME_SCOPES.get()  # read directly: this runs for every new node
        if scopes:
            base = "/".join(scopes) + "/" + base
        counter = self._counters.get(base)
        if counter is None:
            with self._lock:
                counter = self._counters.setdefault(base, itertools.count())
        return base, next(counter)

    def register(self, node: Any) -> None:
        """Give ``node`` the next free name for its base name (Trace's registration).

        Nodes register themselves when created; calling this again renames the node to a new
        index (``b:0`` -> ``b:1``), inside the current ``name_scope`` if one is active.
        """
        if not (hasattr(node, "_base") and hasattr(node, "_index")):
            raise TypeError(f"GRAPH.register expects a node, got {type(node).__name__}")
        node._base, node._index = self.reserve(node._base)

    def count(self, name: str) -> int:
        """How many nodes named ``name`` (base name, without ``:index``) were created."""
        counter = self._counters.get(name)
        return 0 if counter is None else _peek(counter)

    def clear(self) -> None:
        """Reset all counters, so the next ``x`` node is ``x:0`` again.

        Only for a fresh start (tests, notebooks): nodes alive from before keep their names,
        so new ones can repeat them. opto itself never calls it.
        """
        with self._lock:
            self._counters = {}

    def __len__(self) -> int:
        return sum(_peek(counter) for counter in list(self._counters.values()))

    def get(self, name: str) -> None:
        """Trace looked nodes up by ``name`` here; opto keeps no nodes (so graphs can be
        freed), so this raises NotImplementedError saying what to do instead."""
        raise NotImplementedError(
            "GRAPH keeps no nodes (so graphs can be freed); keep a reference to the node instead"
        )

    @property
    def roots(self) -> None:
        """Trace listed root nodes here; opto keeps no nodes, so this raises
        NotImplementedError naming the ways to collect roots."""
        raise NotImplementedError(
            "GRAPH keeps no nodes (so graphs can be freed); collect roots with "
            "node.backward() or opto.trace.utils.collect_ancestors()"
        )

    def __repr__(self) -> str:
        return f"Graph(names={len(self._counters)}, nodes_created={len(self)})"


GRAPH = Graph()
