"""Which execution policy applies: explicit, the innermost ``use_policy`` block, or the
process-wide default (``InProcessPolicy()`` unless changed).

The sandbox and the static checker are imported when a policy is asked for by name, so that
importing opto.runtime (as every bundle does) stays cheap for programs that never use them.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from opto.runtime.policy import ExecutionPolicy, InProcessPolicy

PolicyLike = ExecutionPolicy | str

_POLICY_NAMES = ("in_process", "static_check", "subprocess")
_default_lock = threading.Lock()
_default_policy: ExecutionPolicy = InProcessPolicy()
_context_policy: contextvars.ContextVar[ExecutionPolicy | None] = contextvars.ContextVar(
    "opto_execution_policy", default=None
)


def make_policy(spec: PolicyLike) -> ExecutionPolicy:
    """A policy object from ``spec``: a policy (returned as it is) or one of the names
    ``"in_process"``, ``"static_check"``, ``"subprocess"`` (default settings)."""
    if isinstance(spec, ExecutionPolicy):
        return spec
    if spec == "in_process":
        return InProcessPolicy()
    if spec == "static_check":
        from opto.runtime.static_check import StaticCheckPolicy

        return StaticCheckPolicy()
    if spec == "subprocess":
        from opto.runtime.sandbox import SubprocessPolicy

        return SubprocessPolicy()
    raise TypeError(
        f"Expected an ExecutionPolicy or one of {', '.join(map(repr, _POLICY_NAMES))}, "
        f"got {spec!r}."
    )


def get_default_policy() -> ExecutionPolicy:
    """The process-wide default policy (``InProcessPolicy()`` unless changed)."""
    return _default_policy


def set_default_policy(policy: PolicyLike) -> ExecutionPolicy:
    """Set the process-wide default policy; returns the previous one (to restore it later)."""
    global _default_policy
    resolved = make_policy(policy)
    with _default_lock:
        previous, _default_policy = _default_policy, resolved
    return previous


@contextlib.contextmanager
def use_policy(policy: PolicyLike) -> Iterator[ExecutionPolicy]:
    """Use ``policy`` for code loaded inside this block, in this thread or asyncio task only.

    New threads start without it (copy the context with ``contextvars.copy_context()`` to
    carry it); asyncio tasks created inside the block inherit it.
    """
    resolved = make_policy(policy)
    token = _context_policy.set(resolved)
    try:
        yield resolved
    finally:
        _context_policy.reset(token)


def resolve_policy(explicit: PolicyLike | None = None) -> ExecutionPolicy:
    """The policy that applies: ``explicit`` > innermost ``use_policy`` > the global default."""
    if explicit is not None:
        return make_policy(explicit)
    return _context_policy.get() or _default_policy


def run_function(
    source: str,
    function_name: str,
    args: tuple = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    policy: PolicyLike | None = None,
    namespace: Mapping[str, Any] | None = None,
) -> Any:
    """Run ``function_name(*args, **kwargs)`` from the code string ``source`` once.

    The policy is resolved as in ``resolve_policy``. Errors propagate: the code's own
    exceptions, ``SyntaxError``, or a ``SandboxError``; ``feedback_text`` turns any of them
    into text for an optimizer. ``namespace`` holds the globals the code may use.
    """
    return resolve_policy(policy).run(source, function_name, args, kwargs, namespace)
