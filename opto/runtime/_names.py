"""Which names of the caller's namespace travel into the sandbox, and how.

The code may use names of the module it came from (for a bundle: the module globals of the
wrapped function). They are sent without the caller choosing each one, so they must not carry
credentials into code the sandbox exists to distrust. The rule:

- modules are sent by name (the child imports them);
- classes and functions are sent by name (a pickle of them holds no state);
- plain data is sent by value: numbers, strings, bytes, containers of them, and a few
  standard value types (``SHIPPABLE_TYPES``, enum members, paths, numpy arrays);
- instances of other classes (an LLM client holding an API key, a bound method of one, a
  ``functools.partial`` over one, a connection, a config object) are **not** sent: the code
  gets a ``NameError`` explaining why, and can take the data it needs as arguments;
- a value that contains the value of one of this process's environment variables named like
  a credential (``*KEY*``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``...) is not sent either.

Arguments of the call are sent as given: the caller chose them.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import fractions
import io
import os
import pathlib
import pickle
import re
import sys
import types
from collections.abc import Mapping
from typing import Any

SHIPPABLE_TYPES = (
    complex,
    bytearray,
    range,
    slice,
    collections.OrderedDict,
    collections.Counter,
    collections.defaultdict,
    collections.deque,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    datetime.tzinfo,
    decimal.Decimal,
    fractions.Fraction,
    re.Pattern,
    pathlib.PurePath,
    enum.Enum,
)
_CREDENTIAL_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)
_MIN_SECRET_LENGTH = 8


class _Withheld(pickle.PicklingError):
    """A value that is not sent into the sandbox, with the reason."""


class _ShippingPickler(pickle.Pickler):
    """Pickles plain data, and classes and functions by name; refuses any other instance."""

    def reducer_override(self, obj):
        if isinstance(obj, type | types.FunctionType | types.BuiltinFunctionType):
            bound_to = getattr(obj, "__self__", None)
            if bound_to is None or isinstance(bound_to, types.ModuleType):
                return NotImplemented  # saved by name
        elif isinstance(obj, SHIPPABLE_TYPES) or _is_numpy_data(obj):
            return NotImplemented
        kind = type(obj)
        raise _Withheld(
            f"it is an instance of {kind.__module__}.{kind.__qualname__}, and objects are not "
            "sent into the sandbox because they may carry credentials (only modules, classes, "
            "functions and plain data are); pass the data it needs as an argument"
        )


def _is_numpy_data(obj) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(obj, numpy.ndarray | numpy.generic | numpy.dtype)


def _secrets_in_environment() -> dict[str, bytes]:
    """Values of environment variables named like credentials, as they appear in a pickle."""
    return {
        name: value.encode("utf-8", "surrogatepass")
        for name, value in os.environ.items()
        if _CREDENTIAL_NAME.search(name) and len(value) >= _MIN_SECRET_LENGTH
    }


def pack_names(namespace: Mapping[str, Any], wanted: set[str]):
    """``(modules, values, untransferable)``: modules by name, pickled values, and for each
    name that is not sent, the reason (the child turns it into a hint on ``NameError``)."""
    modules: dict[str, str] = {}
    values: dict[str, bytes] = {}
    untransferable: dict[str, str] = {}
    secrets = None
    for name in sorted(wanted):
        if name not in namespace or (name.startswith("__") and name.endswith("__")):
            continue
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            if value.__name__ == "__main__":
                untransferable[name] = "the main script cannot be imported in the sandbox"
            else:
                modules[name] = value.__name__
            continue
        buffer = io.BytesIO()
        try:
            _ShippingPickler(buffer, protocol=5).dump(value)
        except Exception as error:
            untransferable[name] = (
                str(error) if isinstance(error, _Withheld) else (f"{type(error).__name__}: {error}")
            )
            continue
        blob = buffer.getvalue()
        secrets = _secrets_in_environment() if secrets is None else secrets
        leaked = [key for key, secret in secrets.items() if secret in blob]
        if leaked:
            untransferable[name] = (
                f"it contains the value of the environment variable {leaked[0]}, which looks "
                "like a credential, and credentials are not sent into the sandbox"
            )
            continue
        values[name] = blob
    return modules, values, untransferable
