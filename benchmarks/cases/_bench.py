"""Shared helpers for benchmark cases: repeated timing, a time cap, and JSON-lines output.

A case runs unchanged under our opto and under trace-opt (both import as ``opto``), so this
module uses only the standard library and imports ``opto`` only to describe it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


class CapExceeded(Exception):
    """One run took longer than the cap; larger sizes of the same measurement are skipped."""


@dataclass(frozen=True)
class Options:
    impl: str
    quick: bool
    repeats: int | None
    cap: float | None
    budget: float
    extra: dict[str, Any] = field(default_factory=dict)
    argv: tuple[str, ...] = ()

    def repeats_or(self, full: int, quick: int) -> int:
        """The ``--repeats`` given on the command line, else this case's default."""
        if self.repeats is not None:
            return self.repeats
        return quick if self.quick else full


def parse_options(
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: list[str] | None = None,
) -> Options:
    """The options every case takes, plus the case's own (``add_arguments``) in ``extra``."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--impl", default="opto", help="label for the records (opto, trace-opt)")
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--repeats", type=int, default=None, help="runs per measurement")
    parser.add_argument(
        "--cap", type=float, default=None, help="seconds one run may take (default: no cap)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds a measurement should take; slow runs get fewer repeats (default 40, quick 5)",
    )
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    budget = args.budget if args.budget is not None else (5.0 if args.quick else 40.0)
    common = {"impl", "quick", "repeats", "cap", "budget"}
    extra = {key: value for key, value in vars(args).items() if key not in common}
    return Options(args.impl, args.quick, args.repeats, args.cap, budget, extra, tuple(argv))


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise CapExceeded in the block after ``seconds`` (Unix main thread; else no limit)."""
    usable = (
        seconds
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise CapExceeded(f"a run took longer than the {seconds:g} s cap")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Stopwatch:
    """Times the phases of one run; garbage is collected before a phase and gc is off during it.

    Turning gc off (as ``timeit`` does) keeps collections of unrelated garbage out of the
    numbers, which matters on a noisy machine; the memory case measures with gc on.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        gc.collect()
        was_enabled = gc.isenabled()
        gc.disable()
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            if was_enabled:
                gc.enable()
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed


def repeat_runs(
    run_once: Callable[[Stopwatch], None],
    *,
    repeats: int,
    budget: float,
    cap: float | None = None,
    warmup: int = 0,
) -> dict[str, list[float]]:
    """Seconds per phase over ``repeats`` runs of ``run_once``.

    After the first timed run, the number of runs shrinks so the whole measurement fits in
    ``budget`` seconds (never below one): slow implementations get fewer repeats, fast ones
    all of them. Each run is limited to ``cap`` seconds (CapExceeded).
    """
    for _ in range(warmup):
        with time_limit(cap):
            run_once(Stopwatch())
    samples: dict[str, list[float]] = {}
    done = 0
    while done < repeats:
        started = time.perf_counter()
        watch = Stopwatch()
        with time_limit(cap):
            run_once(watch)
        for name, seconds in watch.seconds.items():
            samples.setdefault(name, []).append(seconds)
        done += 1
        if done == 1:
            first = time.perf_counter() - started
            repeats = max(1, min(repeats, int(budget / first) if first > 0 else repeats))
    return samples


def environment() -> dict[str, Any]:
    """What ran the case: interpreter, machine, and which ``opto`` was imported."""
    import opto

    try:
        from importlib.metadata import PackageNotFoundError, version

        trace_opt = version("trace-opt")
    except PackageNotFoundError:
        trace_opt = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "opto_version": getattr(opto, "__version__", None),
        "opto_file": getattr(opto, "__file__", None),
        "trace_opt_dist": trace_opt,
    }


class Reporter:
    """Writes one JSON line per measurement to stdout, flushed, so the runner can stream."""

    def __init__(self, case: str, options: Options) -> None:
        self.case = case
        self.options = options
        self.env = environment()

    def _emit(self, measure: str, unit: str, status: str, size: int | None, **fields: Any) -> None:
        record = {
            "case": self.case,
            "measure": measure,
            "size": size,
            "impl": self.options.impl,
            "status": status,
            "unit": unit,
            **fields,
            "env": self.env,
        }
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

    def samples(
        self,
        measure: str,
        values: list[float],
        unit: str,
        *,
        size: int | None = None,
        scale: float = 1.0,
        **extra: Any,
    ) -> float:
        """Report repeated measurements (scaled into ``unit``); returns the median."""
        scaled = [value * scale for value in values]
        median = statistics.median(scaled)
        self._emit(
            measure,
            unit,
            "ok",
            size,
            median=median,
            min=min(scaled),
            max=max(scaled),
            repeats=len(scaled),
            samples=scaled,
            **extra,
        )
        return median

    def value(
        self, measure: str, value: float, unit: str, *, size: int | None = None, **extra: Any
    ) -> None:
        """Report a single figure (a derived difference, a memory delta, a count)."""
        self._emit(
            measure, unit, "ok", size, median=value, min=value, max=value, repeats=1, **extra
        )

    def not_run(
        self,
        measure: str,
        unit: str,
        status: str,
        note: str,
        *,
        size: int | None = None,
        **extra: Any,
    ) -> None:
        """Report a measurement that has no figure: ``timeout``, ``skipped`` or ``error``."""
        self._emit(measure, unit, status, size, note=note, **extra)


def interpreter_command() -> list[str]:
    """This interpreter with the isolation flags it was started with, to run a sibling."""
    flags = []
    if sys.flags.ignore_environment:
        flags.append("-E")
    if sys.flags.no_user_site:
        flags.append("-s")
    return [sys.executable, *flags]


def main(
    case: str,
    description: str,
    measure: Callable[[Reporter, Options], None],
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Entry point of a case script: parse the options and run ``measure``."""
    options = parse_options(description, add_arguments)
    measure(Reporter(case, options), options)
