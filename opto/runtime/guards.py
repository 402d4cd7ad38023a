"""Guards for code run in this process: a time limit and a memory limit on every call.

A guarded call runs in the caller's own thread, exactly as an unguarded one. One watchdog
thread per process looks at the guarded calls every few hundredths of a second. When a call is
past its deadline, or the process's resident memory has grown by more than the call's allowance
since the call began, the watchdog asks CPython to raise an interrupt in the calling thread
(``PyThreadState_SetAsyncExc``); the guard turns it into ``TimeLimitExceeded`` or
``MemoryLimitExceeded``, which a bundle reports to the optimizer like any other error.

What this stops, and what it cannot (docs/runtime.md says the same):

- Python code is interrupted at its next bytecode: an infinite loop, a loop that appends to a
  list forever, recursion that allocates, even while it sits in ``try/except Exception``. Code
  that catches ``BaseException`` (a bare ``except:``) swallows the interrupt; it is raised
  again every second for as long as the call goes on.
- A single call into C runs to its end before the interrupt is raised: ``time.sleep(600)``,
  ``sum(range(10**12))``, a catastrophic regular expression, ``[0] * 10**10``. A C call that
  holds the GIL also stops the watchdog itself. Memory that one C call allocates is not
  limited: the kernel's overcommit policy refuses single allocations larger than the machine
  can provide (a ``MemoryError`` for the code), anything smaller is allocated.
- Memory is the whole process's resident size (Linux ``/proc/self/statm``; ``psutil``
  elsewhere when installed, else there is no memory guard): memory that other threads
  allocate during the call counts against it.

These are guards against accidents of generated code, not containment: the subprocess sandbox
(``SubprocessPolicy``) is the boundary for code that must really be stopped.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opto.runtime.errors import MemoryLimitExceeded, TimeLimitExceeded, format_bytes

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
DEFAULT_MEMORY_GROWTH = 2 << 30  # 2 GiB more than the process held when the call began
_POLL_SECONDS = 0.025
_REPEAT_SECONDS = 1.0  # an interrupt the code swallowed is raised again after this long
_IDLE_AFTER_SECONDS = 2.0  # the watchdog sleeps once no guarded call ran for this long


class _Interrupt(BaseException):
    """Raised inside a guarded call that went over a limit. A BaseException, so that the
    code's ``except Exception`` does not catch it."""


@dataclass(frozen=True)
class CallLimits:
    """The limits of each call: ``timeout`` seconds of wall-clock time, ``memory_growth``
    bytes of growth of the process's resident memory; None switches a limit off."""

    timeout: float | None = DEFAULT_TIMEOUT
    memory_growth: int | None = DEFAULT_MEMORY_GROWTH

    def __post_init__(self) -> None:
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(
                f"timeout must be a positive number of seconds or None, got {self.timeout!r}"
            )
        if self.memory_growth is not None and not self.memory_growth > 0:
            raise ValueError(
                f"memory_growth must be a positive number of bytes or None, "
                f"got {self.memory_growth!r}"
            )

    @property
    def active(self) -> bool:
        """Whether any limit is on (if not, calls run unguarded, at no cost)."""
        return self.timeout is not None or self.memory_growth is not None


class _Budget:
    """One guarded call (or one coroutine call, over all its steps): its absolute limits."""

    __slots__ = ("ceiling", "deadline", "limits", "peak", "reason", "start_rss")

    def __init__(self, limits: CallLimits) -> None:
        self.limits = limits
        self.deadline = None if limits.timeout is None else time.monotonic() + limits.timeout
        rss = resident_bytes() if limits.memory_growth is not None else None
        self.start_rss = rss
        self.ceiling = None if rss is None else rss + limits.memory_growth
        self.reason: str | None = None  # "time" or "memory" once a limit is passed
        self.peak = 0


class _Call:
    __slots__ = ("budget", "thread")

    def __init__(self, budget: _Budget) -> None:
        self.budget = budget
        self.thread = threading.get_ident()


class _Watchdog:
    """The one thread that watches every guarded call of the process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.calls: dict[int, list[_Call]] = {}  # by thread: the guarded calls, outermost first
        self.interrupted_at: dict[int, float] = {}  # by thread: when it was last interrupted
        self.thread: threading.Thread | None = None
        self.idle = False  # waiting for a call; woken by the next one

    def add(self, call: _Call) -> None:
        with self.lock:
            self.calls.setdefault(call.thread, []).append(call)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._watch, name="opto-guard-watchdog", daemon=True
                )
                self.thread.start()
            elif self.idle:
                self.wake.notify()

    def finish(self, call: _Call) -> bool:
        """Forget ``call``; True when a call around it in the same thread went over a limit
        (the interrupt must then go on up). Clears an interrupt not yet delivered otherwise."""
        with self.lock:
            stack = self.calls.get(call.thread, [])
            index = next((i for i in range(len(stack) - 1, -1, -1) if stack[i] is call), None)
            outer = stack if index is None else stack[:index]
            outer_tripped = any(other.budget.reason for other in outer)
            if index is not None:
                del stack[index]
                if not stack:
                    del self.calls[call.thread]
            if not outer_tripped and self.interrupted_at.pop(call.thread, None) is not None:
                _raise_in_thread(call.thread, None)
            return outer_tripped

    def _watch(self) -> None:
        _async_exception_setter()  # import ctypes now, not while a call must be stopped
        busy_at = time.monotonic()
        while True:
            time.sleep(_POLL_SECONDS)
            now = time.monotonic()
            with self.lock:
                if self.calls:
                    busy_at = now
                elif now - busy_at > _IDLE_AFTER_SECONDS:  # sleep until the next call
                    self.idle = True
                    while not self.calls:
                        self.wake.wait()
                    self.idle = False
                    busy_at = now = time.monotonic()
            self._inspect(now, resident_bytes())

    def _inspect(self, now: float, rss: int | None) -> None:
        with self.lock:
            for thread, stack in self.calls.items():
                tripped = None
                for call in stack:
                    budget = call.budget
                    if budget.reason is None:
                        if budget.deadline is not None and now >= budget.deadline:
                            budget.reason = "time"
                        elif budget.ceiling is not None and rss is not None:
                            budget.peak = max(budget.peak, rss)
                            if rss >= budget.ceiling:
                                budget.reason = "memory"
                    if budget.reason is not None and tripped is None:
                        tripped = call
                last = self.interrupted_at.get(thread)
                if tripped is not None and (last is None or now - last >= _REPEAT_SECONDS):
                    self.interrupted_at[thread] = now
                    _raise_in_thread(thread, _Interrupt)

    def reset_after_fork(self) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.calls = {}
        self.interrupted_at = {}
        self.thread = None
        self.idle = False


_WATCHDOG = _Watchdog()


def guard(
    function: Callable[..., Any], limits: CallLimits, filename: str | None = None
) -> Callable[..., Any]:
    """``function`` with ``limits`` on each call (``function`` itself when no limit is set).

    ``filename`` names the code ``function`` was compiled from; an error then says at which
    line of that code the call was stopped.
    """
    if not limits.active:
        return function
    if inspect.iscoroutinefunction(function):
        return _guard_coroutine_function(function, limits, filename)

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        return _guarded_call(function, args, kwargs, _Budget(limits), filename)

    return guarded


def _guarded_call(function, args, kwargs, budget: _Budget, filename: str | None):
    call = _Call(budget)
    value = failure = None
    interrupted = started = False
    while True:  # an interrupt can land anywhere, even in this bookkeeping: redo it until done
        try:
            if not started:
                started = True
                _WATCHDOG.add(call)
                try:
                    value = function(*args, **kwargs)
                except BaseException as error:
                    failure = error
            outer_tripped = _WATCHDOG.finish(call)
            break
        except _Interrupt as interrupt:
            interrupted = True
            if failure is None:
                failure = interrupt
    try:
        if budget.reason is not None and not outer_tripped:
            trace = None if failure is None else failure.__traceback__
            raise _limit_error(budget, trace, filename).with_traceback(trace) from None
        if outer_tripped and (interrupted or isinstance(failure, _Interrupt)):
            raise _Interrupt
        if failure is not None:
            raise failure
        return value
    finally:
        del failure


def _limit_error(budget: _Budget, trace: Any, filename: str | None) -> Exception:
    line = _stopped_line(trace, filename)
    limits = budget.limits
    if budget.reason == "time":
        where = f"It was stopped at line {line} of the code." if line else "It was stopped."
        error: Exception = TimeLimitExceeded(limits.timeout, detail=where, line=line)
    else:
        grown = max(budget.peak, resident_bytes() or 0) - (budget.start_rss or 0)
        detail = (
            "The limit is on how much this process's memory may grow during one call; it grew "
            f"by about {format_bytes(max(grown, 0))}."
        )
        error = MemoryLimitExceeded(limits.memory_growth, detail=detail, line=line)
    logger.info("guard stopped a call of %s: %s", filename or "a function", error)
    return error


def _stopped_line(trace: Any, filename: str | None) -> int | None:
    line = None
    while trace is not None and filename:
        if trace.tb_frame.f_code.co_filename == filename:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _guard_coroutine_function(function, limits: CallLimits, filename: str | None):
    @functools.wraps(function)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        steps = _GuardedSteps(function(*args, **kwargs), _Budget(limits), filename)
        if limits.timeout is None:
            return await steps
        import asyncio  # only coroutines need it; importing it costs ~20 ms

        try:
            return await asyncio.wait_for(steps, limits.timeout)
        except TimeLimitExceeded:
            raise
        except asyncio.TimeoutError:
            raise TimeLimitExceeded(
                limits.timeout, detail="The coroutine was cancelled at an await point."
            ) from None

    return guarded


class _GuardedSteps:
    """Drives a coroutine one step at a time, each step a guarded call: the limits apply to
    the coroutine's own work, never to other tasks of the event loop between its steps."""

    def __init__(self, coroutine: Any, budget: _Budget, filename: str | None) -> None:
        self.coroutine = coroutine
        self.budget = budget
        self.filename = filename

    def __await__(self):
        coroutine, sent, thrown = self.coroutine, None, None
        while True:
            step = (coroutine.send, (sent,)) if thrown is None else (coroutine.throw, (thrown,))
            try:
                yielded = _guarded_call(step[0], step[1], {}, self.budget, self.filename)
            except StopIteration as stop:
                return stop.value
            try:
                sent, thrown = (yield yielded), None
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as error:
                sent, thrown = None, error


def resident_bytes() -> int | None:
    """The resident memory of this process in bytes, or None when it cannot be measured."""
    return _RESIDENT.measure()


class _ResidentMemory:
    """Reads the resident size: ``/proc/self/statm`` through a descriptor kept open (one
    system call per reading, about 3 us), else ``psutil`` when it is installed."""

    def __init__(self) -> None:
        self.descriptor: int | None = None
        self.page_size = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self.reopen()

    def reopen(self) -> None:
        """Open the file of this process (after a fork, the inherited one is the parent's)."""
        if self.descriptor is not None:
            with contextlib.suppress(OSError):
                os.close(self.descriptor)
        try:
            self.descriptor = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            self.descriptor = None

    def measure(self) -> int | None:
        if self.descriptor is not None:
            try:
                return int(os.pread(self.descriptor, 128, 0).split()[1]) * self.page_size
            except (OSError, IndexError, ValueError):
                return None
        try:
            import psutil
        except ImportError:
            return None
        try:
            return psutil.Process().memory_info().rss
        except Exception:  # psutil's own errors (a process it may not inspect)
            return None


_RESIDENT = _ResidentMemory()


def _raise_in_thread(thread: int, exception: type[BaseException] | None) -> None:
    """Ask CPython to raise ``exception`` in ``thread`` at its next bytecode (None clears a
    pending one). Without CPython's C API nothing can be done; the guard then only reports
    the limit when the call ends."""
    set_async_exc = _async_exception_setter()
    if set_async_exc is None:
        return
    import ctypes

    target = None if exception is None else ctypes.py_object(exception)
    set_async_exc(ctypes.c_ulong(thread), target)


def _after_fork_in_child() -> None:
    _WATCHDOG.reset_after_fork()
    _RESIDENT.reopen()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@functools.cache
def _async_exception_setter() -> Any:
    try:
        import ctypes

        return ctypes.pythonapi.PyThreadState_SetAsyncExc
    except (ImportError, AttributeError):
        return None
