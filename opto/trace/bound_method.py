"""A bundled method bound to an instance (what ``instance.method`` gives for a bundle).

The bundle (``module``) is a ``opto.trace.bundle.FunModule``.
"""

from __future__ import annotations

from typing import Any

from opto.trace.containers import BundledFunction
from opto.trace.nodes import Node, ParameterNode


class BoundFunModule(BundledFunction):
    """A bundled method bound to an instance; the instance's node is the ``self`` input.

    ``module`` is the bundled function, ``instance`` the object it was looked up on and
    ``self_node`` the node standing for that object in the graph.
    """

    def __init__(self, module: BundledFunction, instance: Any, self_node: Node) -> None:
        self.module = module
        self.__self__ = instance
        self.self_node = self_node

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(self.self_node, *args, **kwargs)

    @property
    def __func__(self) -> BundledFunction:
        return self.module

    @property
    def parameter(self) -> ParameterNode | None:
        """The instance's ``__code`` parameter (None unless trainable)."""
        return self.module.parameter

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("module", "self_node"):
            raise AttributeError(name)
        return getattr(self.module, name)

    def __repr__(self) -> str:
        return f"<bound {self.module!r} of {type(self.__self__).__name__}>"
