import pickle

import pytest

from opto.runtime import (
    CPUTimeLimitExceeded,
    ForbiddenOperationError,
    FunctionNotFoundError,
    MemoryLimitExceeded,
    RemoteCodeError,
    SandboxCrashError,
    SandboxError,
    SandboxUnavailableError,
    TimeLimitExceeded,
    TransferError,
    UnsafeCodeError,
    Violation,
    feedback_text,
)
from opto.runtime.errors import format_bytes

EXAMPLES = [
    TimeLimitExceeded(2.0, detail="It was interrupted.", output="tick\n"),
    CPUTimeLimitExceeded(1.5),
    MemoryLimitExceeded(256_000_000, line=3),
    ForbiddenOperationError("socket.connect", "network access", line=7),
    SandboxCrashError("it exited with code 3", exit_code=3),
    UnsafeCodeError([Violation(2, "use of the builtin 'open' is not allowed", "  open(x)")]),
    TransferError("The arguments could not be sent"),
    FunctionNotFoundError("f", ["g"]),
    RemoteCodeError("json.decoder.JSONDecodeError", "Expecting value", "Traceback ...", line=4),
    SandboxUnavailableError("Required sandbox layers are not available"),
]


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_every_error_is_a_sandbox_error_that_survives_pickling(error):
    assert isinstance(error, SandboxError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def test_errors_also_have_the_familiar_builtin_bases():
    assert isinstance(TimeLimitExceeded(1.0), TimeoutError)
    assert isinstance(ForbiddenOperationError("os.fork", "x"), PermissionError)
    assert isinstance(FunctionNotFoundError("f"), NameError)


def test_messages_say_what_happened_the_limit_and_the_line():
    assert "CPU time limit of 1.5 s" in str(CPUTimeLimitExceeded(1.5))
    assert "memory limit of 256 MB (at line 3" in str(MemoryLimitExceeded(256_000_000, line=3))
    forbidden = ForbiddenOperationError("socket.connect", "network access", line=7)
    assert "at line 7 of the code): network access (socket.connect)" in str(forbidden)
    unsafe = UnsafeCodeError([Violation(2, "use of open", "  open(x)")])
    assert unsafe.line == 2 and "line 2: `open(x)`: use of open" in str(unsafe)


def test_feedback_includes_what_the_code_printed():
    text = feedback_text(TimeLimitExceeded(2.0, output="step 1\nstep 2\n"))
    assert text.endswith("Output of the code before it stopped:\nstep 1\nstep 2")


def test_feedback_for_an_ordinary_exception_is_its_summary():
    assert feedback_text(ValueError("bad")) == "ValueError: bad"


@pytest.mark.parametrize(
    ("count", "text"),
    [(256_000_000, "256 MB"), (2**30, "1 GiB"), (3 * 2**20 + 1, "3.0 MiB"), (100, "100 bytes")],
)
def test_sizes_are_shown_in_the_unit_they_were_given_in(count, text):
    assert format_bytes(count) == text
