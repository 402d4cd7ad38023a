"""Modules: classes whose attributes and bundled methods hold trainable parameters.

``save``/``load`` use JSON, never pickle, so loading a file cannot run code; values that JSON
cannot represent are refused with an error naming the parameter.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from opto.trace.containers import ParameterContainer
from opto.utils.atomic import atomic_write_json

FORMAT = "opto.module/1"


class ModuleSerializationError(TypeError):
    """A parameter value cannot be saved as JSON, or a saved file does not fit the module."""


class Module(ParameterContainer):
    """Base of trainable workflows: ``forward`` computes, ``parameters()`` lists what to train."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def save(self, file_name: str | os.PathLike) -> Path:
        """Write the parameter values to the file ``file_name`` as JSON (atomically)."""
        values = {}
        for name, parameter in self.named_parameters().items():
            values[name] = _encode(parameter._data, name)
        document = {
            "format": FORMAT,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "parameters": values,
        }
        return atomic_write_json(file_name, document)

    def load(self, file_name: str | os.PathLike) -> None:
        """Set the parameters from a file written by ``save``; all of them must be there."""
        path = file_name
        raw = Path(path).read_bytes()
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModuleSerializationError(
                f"{path} is not an opto JSON module file ({error}); opto never unpickles files, "
                "so a pickle written by Trace must be converted by loading it in Trace and "
                "saving the values as JSON"
            ) from error
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ModuleSerializationError(f"{path} is not an opto module file (format {FORMAT})")
        stored = document["parameters"]
        current = self.named_parameters()
        missing = sorted(set(current) - set(stored))
        if missing:
            raise ModuleSerializationError(f"{path} has no value for parameter(s) {missing}")
        extra = sorted(set(stored) - set(current))
        if extra:
            warnings.warn(f"{path} has values for unknown parameter(s) {extra}", stacklevel=2)
        for name, parameter in current.items():
            parameter._set(_decode(stored[name]))

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


_TUPLE = "__opto_tuple__"


def _encode(value: Any, name: str) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ModuleSerializationError(f"parameter {name} is {value}, which JSON cannot hold")
        return value
    if isinstance(value, list):
        return [_encode(item, name) for item in value]
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(item, name) for item in value]}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ModuleSerializationError(f"parameter {name} is a dict with non-string keys")
        return {key: _encode(item, name) for key, item in value.items()}
    raise ModuleSerializationError(
        f"parameter {name} holds a {type(value).__module__}.{type(value).__qualname__}, which "
        "JSON cannot represent; keep parameters as str, numbers, bools, None, lists, tuples "
        "or dicts with string keys"
    )


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {_TUPLE}:
            return tuple(_decode(item) for item in value[_TUPLE])
        return {key: _decode(item) for key, item in value.items()}
    return value
