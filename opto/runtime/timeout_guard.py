"""A wall-clock guard for code run in this process, honest about its reach.

Python cannot kill a thread. The guard runs the call on a helper thread and, when time is up,
returns control to the caller with ``TimeLimitExceeded``, then asks the interpreter to raise
an interrupt inside the runaway thread. That stops pure-Python loops at their next bytecode;
it does not stop code blocked inside a C call (``time.sleep``, a huge ``sum``, a regex), and
code may catch the interrupt with a bare ``except:``. Such a thread keeps running (and using
CPU) in the background until it ends; the error message says so. Use the subprocess policy
when runaway code must really be stopped.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from opto.runtime.errors import TimeLimitExceeded

_GRACE_SECONDS = 0.2
logger = logging.getLogger(__name__)


class _CallInterrupted(BaseException):
    """Raised inside a timed-out call; a BaseException so ``except Exception`` misses it."""


def with_time_limit(function: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    """Wrap ``function`` so that each call gives up after ``seconds`` of wall-clock time."""
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            import asyncio  # only coroutines need it; importing it costs ~20 ms

            try:
                return await asyncio.wait_for(function(*args, **kwargs), seconds)
            except asyncio.TimeoutError:
                raise TimeLimitExceeded(
                    seconds, detail="The coroutine was cancelled at an await point."
                ) from None

        return guarded_async

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        return _call_with_deadline(function, args, kwargs, seconds)

    return guarded


def _call_with_deadline(function, args, kwargs, seconds: float):
    outcome: dict[str, Any] = {}
    finished = threading.Event()
    context = contextvars.copy_context()  # tracing state follows the call onto the thread

    def run() -> None:
        try:
            try:
                outcome["value"] = context.run(function, *args, **kwargs)
            except _CallInterrupted:
                outcome["interrupted"] = True
            except BaseException as error:
                outcome["error"] = error
            finally:
                finished.set()
        except _CallInterrupted:  # arrived just after the call ended
            pass

    worker = threading.Thread(target=run, name="opto-time-limited-call", daemon=True)
    worker.start()
    if not finished.wait(seconds):
        _interrupt(worker)
        stopped = finished.wait(_GRACE_SECONDS)
        name = getattr(function, "__name__", "the call")
        logger.info(
            "time limit: %s stopped after %g s (%s)",
            name,
            seconds,
            "interrupted" if stopped else "still running in the background",
        )
        raise TimeLimitExceeded(
            seconds,
            detail=(
                "It was interrupted."
                if stopped
                else "It could not be interrupted (it is blocked in a C call or ignores "
                "interrupts) and is still running in a background thread of this process."
            ),
        )
    if "error" in outcome:
        error = outcome.pop("error")
        try:
            raise error
        finally:
            del error
    return outcome.get("value")


def _interrupt(worker: threading.Thread) -> None:
    """Ask CPython to raise ``_CallInterrupted`` in ``worker`` at its next bytecode."""
    try:
        import ctypes

        set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    except (ImportError, AttributeError):  # not CPython: nothing more can be done
        return
    if worker.ident is not None:
        set_async_exc(ctypes.c_ulong(worker.ident), ctypes.py_object(_CallInterrupted))
