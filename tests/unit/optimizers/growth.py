"""Complexity checks that compare growth, not wall-clock time.

``growth(function, make_input)`` times ``function`` on inputs of 64 KB, 256 KB and 1 MB
(each size 4x the previous) and returns the time ratios between neighbours. A linear function
gives about 4, a quadratic one 16. Each time is the best of two runs of enough calls to last a
few milliseconds, and the walk stops at the first ratio over the limit, so a quadratic function
fails in seconds instead of hanging the suite. ``is_linear`` allows three attempts.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

SIZES = (65_536, 262_144, 1_048_576)
LIMIT = 9.0  # between linear (4) and quadratic (16); generous for noise and n log n


def repeat_to(unit: str, size: int, prefix: str = "", suffix: str = "") -> str:
    """``prefix + unit * k + suffix`` of about ``size`` characters."""
    count = max(1, (size - len(prefix) - len(suffix)) // max(1, len(unit)))
    return prefix + unit * count + suffix


def _per_call(function: Callable[[str], object], text: str) -> float:
    calls, spent = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            function(text)
        spent = time.perf_counter() - start
        if spent >= 0.004 or calls >= 1024:
            return spent / calls
        calls *= 4


def _best(function: Callable[[str], object], text: str) -> float:
    """Best of two, with the cyclic garbage collector paused: its passes over every live
    object are not the parser's algorithm, and they make large inputs look superlinear."""
    gc.collect()
    gc.disable()
    try:
        return min(_per_call(function, text) for _ in range(2))
    finally:
        gc.enable()


def growth(
    function: Callable[[str], object], make_input: Callable[[int], str], sizes=SIZES
) -> list[float]:
    """Time ratios between neighbouring sizes, stopping after the first one over LIMIT."""
    ratios: list[float] = []
    previous = _best(function, make_input(sizes[0]))
    for size in sizes[1:]:
        current = _best(function, make_input(size))
        ratios.append(current / max(previous, 1e-7))
        if ratios[-1] > LIMIT:
            break
        previous = current
    return ratios


def is_linear(function: Callable[[str], object], make_input: Callable[[int], str], sizes=SIZES):
    """(True, ratios) if one of three measurements stays under LIMIT at every step.

    A busy machine can slow one measurement down; it does not make three in a row look
    quadratic, while a quadratic function fails all three."""
    attempts = []
    for _ in range(3):
        ratios = growth(function, make_input, sizes)
        attempts.append(ratios)
        if max(ratios) < LIMIT:
            return True, attempts
    return False, attempts
