"""``MODULE:NAME`` and ``FILE.py:NAME`` on the command line: the user's own objects.

Only what the user types is ever imported: names recorded in a run directory are shown as
hints, never loaded. ``MODULE`` is imported as Python would (the current directory first on
the path); ``FILE.py`` runs as a module named after the file, without its ``__main__`` block.
"""

from __future__ import annotations

import importlib
import runpy
import sys
from pathlib import Path
from typing import Any

from opto.cli.errors import USAGE, CommandError


def load_target(spec: str, what: str) -> Any:
    """The object ``spec`` names; ``CommandError`` (usage) saying what went wrong."""
    source, _, attribute = spec.rpartition(":")
    if not source or not attribute:
        raise CommandError(
            f"{what} must be given as MODULE:NAME or FILE.py:NAME, got {spec!r}", USAGE
        )
    namespace = _namespace(source, what)
    value: Any = namespace
    for part in attribute.split("."):
        try:
            value = value[part] if isinstance(value, dict) else getattr(value, part)
        except (KeyError, AttributeError):
            raise CommandError(f"{source} has no {attribute!r} (for {what})", USAGE) from None
    return value


def _namespace(source: str, what: str) -> Any:
    if source.endswith(".py"):
        path = Path(source)
        if not path.is_file():
            raise CommandError(f"no file {source} (for {what})", USAGE)
        sys.path.insert(0, str(path.resolve().parent))
        return runpy.run_path(str(path), run_name=f"opto_target_{path.stem}")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(source)
    except ImportError as error:
        raise CommandError(f"cannot import {source} (for {what}): {error}", USAGE) from None
