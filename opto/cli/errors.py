"""Exit codes of the ``opto`` command, and the error that carries one.

| code | meaning |
|---|---|
| 0 | success |
| 1 | the command ran and failed (training raised, a doctor check failed, ...) |
| 2 | usage error: a wrong argument, or something the command needs was not given |
| 3 | the run directory or archive is missing, not a run, or damaged |
| 4 | ``opto resume``: the run stopped on its budget (resume with a larger one) |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

OK = 0
FAILURE = 1
USAGE = 2
RUN_UNREADABLE = 3
BUDGET_STOPPED = 4
INTERRUPTED = 130


class CommandError(Exception):
    """A failure to report as one message (no traceback) with an exit code."""

    def __init__(self, message: str, code: int = FAILURE) -> None:
        super().__init__(message)
        self.code = code
