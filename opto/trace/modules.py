"""Modules: classes whose attributes and bundled methods hold trainable parameters.

``save``/``load`` use JSON, never pickle, so loading a file cannot run code; values that JSON
cannot represent are refused with an error naming the parameter.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from opto.trace.containers import ParameterContainer
from opto.trace.display import module_html, module_repr
from opto.utils.atomic import atomic_write_json
from opto.utils.errors import OptoError
from opto.utils.json_values import (
    DamagedValue,
    UnstorableValue,
    decode_value,
    encode_value,
)
from opto.utils.user_warnings import warn_user

FORMAT = "opto.module/1"


class ModuleSerializationError(OptoError, TypeError):
    """A parameter value cannot be saved as JSON, or a saved file does not fit the module."""


class Module(ParameterContainer):
    """Base of trainable workflows: ``forward`` computes, ``parameters()`` lists what to train."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The workflow: what calling the module computes; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def __repr__(self) -> str:
        """The parameters, one line each, as PyTorch prints a module (a class of the user's
        that defines ``__repr__`` keeps its own)."""
        try:
            return module_repr(self)
        except Exception:  # a half-built module still prints
            return object.__repr__(self)

    def _repr_html_(self) -> str:
        """The parameter table a notebook shows."""
        return module_html(self)

    def save(self, file_name: str | os.PathLike) -> Path:
        """Write the parameter values to the file ``file_name`` as JSON (atomically)."""
        values = {}
        for name, parameter in self.named_parameters().items():
            values[name] = encode_parameter(parameter._data, name)
        document = {
            "format": FORMAT,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "parameters": values,
        }
        return atomic_write_json(file_name, document)

    def load(self, file_name: str | os.PathLike) -> None:
        """Set the parameters from ``file_name``, written by ``save``; all of them must be
        there.

        Nothing is set unless every value fits: a value of another type than the parameter's
        current one (a string for an int parameter) is refused, and so is a damaged file.
        """
        path = file_name
        try:
            document = json.loads(Path(path).read_bytes(), parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise ModuleSerializationError(
                f"{path} is not an opto JSON module file ({error}); opto never unpickles files, "
                "so a pickle written by Trace must be converted by loading it in Trace and "
                "saving the values as JSON"
            ) from error
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ModuleSerializationError(f"{path} is not an opto module file (format {FORMAT})")
        stored = document.get("parameters")
        if not isinstance(stored, dict):
            raise ModuleSerializationError(f"{path} has no object of parameter values")
        current = self.named_parameters()
        missing = sorted(set(current) - set(stored))
        if missing:
            raise ModuleSerializationError(f"{path} has no value for parameter(s) {missing}")
        extra = sorted(set(stored) - set(current))
        if extra:
            warn_user(f"{path} has values for unknown parameter(s) {extra}")
        values = {}
        for name, parameter in current.items():
            try:
                values[name] = decode_value(stored[name])
            except DamagedValue as error:
                raise ModuleSerializationError(f"{path}: parameter {name}: {error}") from None
            mismatch = type_mismatch(parameter._data, values[name])
            if mismatch:
                raise ModuleSerializationError(f"{path}: parameter {name}: {mismatch}")
        for name, parameter in current.items():
            parameter._set(values[name])

    def export(self, filename: str | os.PathLike, projections: list | None = None) -> Path:
        """Write a standalone Python file of this class with the learned code and values.

        Args:
            filename: the file to write.
            projections: applied to the file's text before it is written (e.g.
                ``BlackCodeFormatter()``).
        """
        from opto.trace.export import export_module

        return export_module(self, filename, projections=projections)


Model = Module


def model(cls: type) -> type:
    """Class decorator making ``cls`` a Module (picklable when defined at module level)."""
    if issubclass(cls, Module):
        return cls
    namespace = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "_opto_model_base": cls,
    }
    return type(cls.__name__, (cls, Module), namespace)


def encode_parameter(value: Any, name: str) -> Any:
    """``value`` as JSON-ready data; ``ModuleSerializationError`` naming ``name`` if it
    cannot be stored (see :mod:`opto.utils.json_values`)."""
    try:
        return encode_value(value)
    except UnstorableValue as error:
        raise ModuleSerializationError(f"parameter {name} holds {error}") from None


def type_mismatch(current: Any, loaded: Any) -> str | None:
    """Why ``loaded`` cannot replace ``current`` (another type), or None.

    A parameter holding None takes any value; ints and floats are not interchangeable."""
    if current is None or _same_json_kind(current, loaded):
        return None
    return (
        f"the file holds a value of type {type(loaded).__name__}, the parameter one of type "
        f"{type(current).__name__}"
    )


def _same_json_kind(current: Any, loaded: Any) -> bool:
    """JSON gives back plain types: a str subclass or a dict subclass reads back as plain."""
    for kind in (bool, str, dict, list, tuple):
        if isinstance(current, kind):
            return type(loaded) is kind
    if isinstance(current, float):
        return type(loaded) is float
    if isinstance(current, int):
        return type(loaded) is int
    return False


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")
