"""``MODULE:NAME`` and ``FILE.py:NAME`` on the command line: the user's own objects.

Only what the user types is ever imported: names recorded in a run directory are shown as
hints, never loaded. ``MODULE`` is imported as Python would (the current directory first on
the path); ``FILE.py`` is imported once, as module ``opto_target_FILE`` (its ``__main__``
block does not run).
"""

from __future__ import annotations

import importlib
import importlib.util
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
        return _import_file(path)
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(source)
    except ImportError as error:
        raise CommandError(f"cannot import {source} (for {what}): {error}", USAGE) from None


def _import_file(path: Path) -> Any:
    """The file imported as module ``opto_target_<name>``, once (naming the model and the guide
    in one file runs it once), with its folder first on the path for its own imports."""
    name = f"opto_target_{path.stem}"
    loaded = sys.modules.get(name)
    if loaded is not None and Path(loaded.__file__ or "").resolve() == path.resolve():
        return loaded
    sys.path.insert(0, str(path.resolve().parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
