"""Sizes written as text ("256MB", "1GiB") or bytes, read the same way by every policy."""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
}


def parse_size(value: int | str | None) -> int | None:
    """The size ``value`` in bytes: ``"256MB"`` -> 256_000_000, ``"1GiB"`` -> 1_073_741_824;
    ints are bytes already and None (no limit) stays None."""
    if value is None or isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    unit = match.group(2).lower() if match else None
    if unit not in _UNITS:
        raise ValueError(
            f"Cannot read {value!r} as a size; write e.g. 268435456, '256MB' or '1GiB'."
        )
    return int(float(match.group(1)) * _UNITS[unit])
