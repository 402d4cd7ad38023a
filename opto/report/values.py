"""Reading values out of run files that may hold anything.

A run directory or an archive is input like any other: a field may be missing, of another
type, huge or nested a thousand levels deep. These helpers return the expected type or a
neutral default, so the readers never raise on a value and never trust one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from opto.utils.errors import OptoError

MAX_FILE_BYTES = 512 * 1024 * 1024
"""Run files larger than this are not read (a report is not worth exhausting memory)."""


class RunFileError(OptoError):
    """A run directory or archive cannot be read: missing, not a run, or damaged.

    ``str(error)`` is a message for the user; the command line exits with code 3.
    """


def load_json_text(text: str) -> Any:
    """``json.loads(text)`` that reports nesting too deep for Python as a ``ValueError``."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_text(path: Path, what: str) -> str:
    """The text of the file ``path``; ``RunFileError`` if it is too large, unreadable or not
    UTF-8. ``what`` names the file's role in the message (``checkpoint``, ``log``, ...)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RunFileError(
                f"{path} is {size:,} bytes, more than the {MAX_FILE_BYTES:,} a {what} may have"
            )
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise RunFileError(f"{path} is damaged: it is not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise RunFileError(f"cannot read {path}: {error.strerror or error}") from None


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; ``RunFileError`` saying what is wrong otherwise."""
    text = read_text(path, what)
    try:
        value = load_json_text(text)
    except ValueError as error:
        raise RunFileError(f"{path} is damaged: it is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise RunFileError(f"{path} is damaged: the {what} must be a JSON object")
    return value


def number(value: Any) -> float | None:
    """``value`` as a float if it is a finite int or float; None for anything else (bools
    included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def integer(value: Any) -> int | None:
    """``value`` if it is an int (not a bool); None otherwise."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def text(value: Any) -> str:
    """``value`` as text: a string as is; None as ``""``; anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return pretty(value)


def mapping(value: Any) -> dict[str, Any]:
    """``value`` as a dict with string keys if it is a dict, else ``{}``."""
    if not isinstance(value, dict):
        return {}
    return {str(key): item for key, item in value.items()}


def number_map(value: Any) -> dict[str, float]:
    """The finite numeric entries of ``value`` if it is a dict (else ``{}``)."""
    found = {}
    for key, item in mapping(value).items():
        converted = number(item)
        if converted is not None:
            found[key] = converted
    return found


def text_list(value: Any) -> list[str]:
    """Each item of ``value`` as text if it is a list; [] for anything else."""
    return [text(item) for item in value] if isinstance(value, list) else []


def pretty(value: Any) -> str:
    """Indented JSON of a value (strings as they are)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=repr)
    except (ValueError, RecursionError):
        return repr(value)


def mean_scores(rows: list[Any]) -> dict[str, float]:
    """Mean per metric over the score dicts ``rows`` (non-numeric entries ignored)."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for row in rows:
        for key, value in number_map(row).items():
            sums[key] = sums.get(key, 0.0) + value
            counts[key] = counts.get(key, 0) + 1
    return {key: sums[key] / counts[key] for key in sums}
