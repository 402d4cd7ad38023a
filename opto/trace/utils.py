"""Helpers kept at Trace's import path ``opto.trace.utils``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opto.trace.nodes import Node


def contain(container: Iterable[Any], item: Node) -> bool:
    """Whether ``item`` itself (not an equal value) is in ``container``."""
    return any(element is item for element in container)


def render_opt_step(*args: Any, **kwargs: Any) -> Any:
    """See ``opto.optimizers.render.render_opt_step``."""
    from opto.optimizers.render import render_opt_step as render

    return render(*args, **kwargs)
