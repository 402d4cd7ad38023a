"""Atomic file writes: a crash or a kill leaves either the old file or the new one.

The new text goes to a temporary file next to the target (``.name.XXXXXXXX.tmp``) that is
renamed over it. A kill between the two leaves that temporary behind; whoever opens the
folder next calls :func:`remove_leftovers` to delete it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file, fsync and rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return target


def atomic_write_json(path: str | os.PathLike, value: Any) -> Path:
    """Write ``value`` as indented JSON (no NaN or infinity) to ``path`` atomically, so a
    reader or a crash never sees half a file; returns the path written."""
    return atomic_write_text(path, json.dumps(value, indent=2, allow_nan=False) + "\n")


def remove_leftovers(path: str | os.PathLike) -> list[Path]:
    """Delete the temporaries a killed :func:`atomic_write_text` to ``path`` left behind.

    Only names this module creates are touched (``.name.`` + 8 random characters, with or
    without ``.tmp``). Call it when a folder is opened, not while another process writes
    into it. Returns what was removed.
    """
    target = Path(path)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}(?:\.tmp)?")
    removed = []
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return removed
    for name in names:
        if pattern.fullmatch(name):
            leftover = target.parent / name
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink(missing_ok=True)
                removed.append(leftover)
    return removed
