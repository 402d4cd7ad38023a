"""A bundle as a method, and copying and pickling a bundle.

``instance.method`` for a bundled method gives a BoundFunModule whose ``self`` input is a
node kept on the instance; each instance gets its own copy of the bundle, so its ``__code``
parameter is its own. A copy of a bundle shares the function and, for ``deepcopy``, gets a
copy of the code parameter. A pickled bundle names its function by module and qualified name.
"""

from __future__ import annotations

import copy
import importlib
import threading
from collections.abc import Callable
from typing import Any

from opto.trace.bound_method import BoundFunModule
from opto.trace.containers import RESERVED_PREFIX
from opto.trace.nodes import Node, ParameterNode, new_root
from opto.trace.trainable_code import CompiledCode

SELF_NODE_ATTRIBUTE = RESERVED_PREFIX + "self_node"
"""Instance attribute holding the node of ``self`` that every bundled method call uses."""


class BundleBinding:
    """Method binding, copies and pickling of FunModule."""

    # Set by FunModule.__init__.
    _fun: Callable
    _instance_key: str
    _initial_code: str | None
    _lock: threading.Lock
    _compiled: CompiledCode | None
    parameter: ParameterNode | None

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        """A bundled method of ``obj``: ``obj`` is its ``self`` input.

        As in Trace, the instance keeps its own copy of the bundle (with its own ``__code``
        parameter) in ``__TRACE_RESERVED_bundle_<name>`` and the node of ``self``, shared by
        all its bundled methods, in ``__TRACE_RESERVED_self_node``.
        """
        if obj is None:
            return self
        instance_dict = getattr(obj, "__dict__", None)
        if instance_dict is None:  # no __dict__ (slots): nothing can be kept per instance
            return BoundFunModule(self._for_instance(), obj, new_root(obj))
        key = self._instance_key
        module = instance_dict.get(key)
        if getattr(module, "_fun", None) is not self._fun:
            module = instance_dict[key] = self._for_instance()
        self_node = instance_dict.get(SELF_NODE_ATTRIBUTE)
        if not isinstance(self_node, Node):
            self_node = instance_dict[SELF_NODE_ATTRIBUTE] = new_root(obj)
        return BoundFunModule(module, obj, self_node)

    def _for_instance(self) -> Any:
        """The bundle an instance uses: a copy, with a ``__code`` parameter of its own."""
        duplicate = copy.copy(self)
        duplicate._lock = threading.Lock()
        if self.parameter is not None:
            duplicate.parameter = ParameterNode(
                self.parameter._data,
                name="__code",
                description=self.parameter.description,
                projections=list(self.parameter.projections),
                code_spec=self.parameter.code_spec.copy(),
            )
        return duplicate

    def __copy__(self) -> Any:
        duplicate = object.__new__(type(self))
        duplicate.__dict__.update(self.__dict__)
        return duplicate

    def __deepcopy__(self, memo: dict) -> Any:
        duplicate = copy.copy(self)
        duplicate._lock = threading.Lock()
        if self.parameter is not None:
            duplicate.parameter = copy.deepcopy(self.parameter, memo)
        memo[id(self)] = duplicate
        return duplicate

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_fun"] = FunctionReference(self._fun)
        state.pop("_lock", None)
        state["_site_locals"] = {}
        state["_compiled"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._fun = state["_fun"].resolve()
        self._lock = threading.Lock()
        if self.parameter is not None:
            self._compiled = CompiledCode.original(self._initial_code, self._fun)


class FunctionReference:
    """A bundled function pickled by where it is defined, not by value.

    Args:
        fun: the function (its ``__module__`` and ``__qualname__`` are kept).
    """

    def __init__(self, fun: Callable) -> None:
        self.module = fun.__module__
        self.qualname = fun.__qualname__

    def resolve(self) -> Callable:
        """The plain function found at the module and qualified name (unwrapping a bundle)."""
        found: Any = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            found = getattr(found, part)
        if isinstance(found, BoundFunModule):
            found = found.module
        return found.fn if isinstance(found, BundleBinding) else found
