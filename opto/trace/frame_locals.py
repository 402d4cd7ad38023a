"""Writing a local variable of a running Python frame (Trace's ``update_local``)."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any


def update_local(frame: FrameType, name: str, value: Any) -> None:
    """Set the local variable ``name`` of the running ``frame`` to ``value``.

    From Python 3.13 on, ``frame.f_locals`` writes through to the frame. Before, a write to
    it only changes a snapshot, so it is copied back into the frame with CPython's
    ``PyFrame_LocalsToFast``. Trace used this to redirect recursive calls; opto's bundles do
    not need it, it is kept for code that calls it.
    """
    frame.f_locals[name] = value
    if sys.version_info < (3, 13):
        import ctypes  # only here: most programs never need it

        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
