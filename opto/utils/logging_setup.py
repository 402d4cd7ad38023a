"""One switch for how much opto says: `set_log_level(...)` and the `OPTO_LOG_LEVEL` variable.

opto logs through the standard `logging` module, one logger per module under the `opto`
logger (`opto.llm.base`, `opto.optimizers.optimizer`, ...). A library should not decide where
its users' logs go, so until asked opto adds no handler at all: Python's last-resort handler
prints WARNING and above to stderr, and everything below is dropped. That is the default
"quiet except warnings".

`set_log_level("INFO")`, or `OPTO_LOG_LEVEL=INFO` in the environment (read once, when `opto` is
imported), sets the level of the `opto` logger and, when the application has not configured
logging itself, gives that logger one stderr handler. The root logger is never changed; when
the application has configured logging (e.g. `logging.basicConfig`), opto's records reach its
handlers as usual and the switch only sets opto's level.

The level of a logger is process-wide state of the `logging` module; `log_level_scope` sets it
for the duration of a block (what `train(log_level=...)` uses) and restores it afterwards.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

LOG_LEVEL_VARIABLE = "OPTO_LOG_LEVEL"
ROOT_LOGGER_NAME = "opto"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_switch_lock = threading.Lock()


class OptoLogHandler(logging.StreamHandler):
    """The stream handler opto adds to its own logger when asked (recognised by its type)."""


def parse_level(level: str | int) -> int:
    """The numeric level of ``level`` (a name such as "info", case-insensitive, or a number).

    Raises ValueError naming the accepted names for anything else.
    """
    if isinstance(level, bool):
        raise ValueError(f"log level must be one of {', '.join(LEVEL_NAMES)} or a number")
    if isinstance(level, int):
        return level
    if isinstance(level, str):
        name = level.strip().upper()
        if name == "WARN":
            name = "WARNING"
        if name in LEVEL_NAMES:
            return logging.getLevelName(name)
        if name.isdigit():
            return int(name)
    raise ValueError(
        f"log level must be one of {', '.join(LEVEL_NAMES)} (or a number), got {level!r}"
    )


def opto_logger() -> logging.Logger:
    """The parent of every opto logger; its level is what `set_log_level` sets."""
    return logging.getLogger(ROOT_LOGGER_NAME)


def set_log_level(level: str | int, stream: IO[str] | None = None) -> None:
    """Make opto log at ``level`` and above.

    Args:
        level: "DEBUG" (every cache hit, budget reservation and wait), "INFO" (retries with
            their wait and cause, refused suggestions, sandbox failures, guard stops),
            "WARNING" (the default: only what needs attention), "ERROR", "CRITICAL", or a
            number as in `logging`.
        stream: where opto's own handler writes (default: standard error). The handler is
            added only when neither opto's logger nor the root logger has one, so an
            application that configured logging keeps its own handlers and format.
    """
    numeric = parse_level(level)
    with _switch_lock:
        logger = opto_logger()
        logger.setLevel(numeric)
        own = [h for h in logger.handlers if isinstance(h, OptoLogHandler)]
        if own:
            if stream is not None:
                own[0].setStream(stream)
        elif not logger.handlers and not logging.getLogger().handlers:
            _add_handler(logger, stream)


def _add_handler(logger: logging.Logger, stream: IO[str] | None) -> OptoLogHandler:
    handler = OptoLogHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)
    return handler


@contextmanager
def log_level_scope(level: str | int | None) -> Iterator[None]:
    """Log at ``level`` while the block runs, then restore opto's level and handlers.

    Args:
        level: as for `set_log_level`; None leaves the current setting alone.
    """
    if level is None:
        yield
        return
    logger = opto_logger()
    with _switch_lock:
        previous_level = logger.level
        previous_handlers = list(logger.handlers)
    set_log_level(level)
    try:
        yield
    finally:
        with _switch_lock:
            logger.setLevel(previous_level)
            for handler in list(logger.handlers):
                if handler not in previous_handlers:
                    logger.removeHandler(handler)


def configure_from_environment(environ: Mapping[str, str] | None = None) -> None:
    """Apply ``OPTO_LOG_LEVEL`` when it is set; a value that is not a level is ignored with a
    warning (importing opto must not fail because of it).

    Args:
        environ: the variables to read (default: ``os.environ``).
    """
    value = (os.environ if environ is None else environ).get(LOG_LEVEL_VARIABLE, "").strip()
    if not value:
        return
    try:
        set_log_level(value)
    except ValueError as error:
        warnings.warn(f"{LOG_LEVEL_VARIABLE} is ignored: {error}", stacklevel=2)
