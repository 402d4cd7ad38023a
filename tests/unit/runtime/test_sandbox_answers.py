"""Forged and broken answers of the sandbox child: whatever the code writes on the channel
the result travels on (nested a million deep, keys that all hash alike, a pickle, nothing at
all), the caller gets a typed SandboxError, and neither crashes nor hangs."""

import subprocess
import sys
import textwrap

import pytest

from opto.runtime import SandboxCrashError, SubprocessPolicy, TransferError

pytestmark = pytest.mark.usefixtures("no_leftover_processes")

# The code finds the channel the way hostile code would: it is the child's descriptor 3.
WRITE_ANSWER = """
import os

def send(answer):
    view = memoryview(answer)
    while view:
        view = view[os.write(3, view):]
    os._exit(0)
"""
DEEP_PICKLE = """
def f():  # a frozenset holding a tuple nested a million deep: hashing it recurses in C
    send(b"\\x80\\x05(K\\x00" + b"\\x85" * 1_000_000 + b"\\x91.")
"""
DEEP_ANSWER = """
import struct, _wire_format

def f():
    deep = _wire_format.MAGIC + (b"t" + struct.pack("<I", 1)) * 1_000_000 + b"N"
    send(_wire_format.encode({"kind": "ok", "value": deep, "type": "builtins.tuple"}))
"""
COLLIDING = """
import pickle, struct

def big(number):
    return number.to_bytes(number.bit_length() // 8 + 1, "little", signed=True)

def f(form):  # 20,000 integers whose hashes are all 0: rebuilding the set is quadratic
    keys = [big(k * (2**61 - 1)) for k in range(1, 20_001)]
    if form == "pickle":
        items = b"".join(b"\\x8a" + bytes([len(raw)]) + raw for raw in keys)
        value = b"\\x80\\x04\\x8f(" + items + b"\\x90."
        send(pickle.dumps({"kind": "ok", "value": value, "type": "builtins.set"}))
    import _wire_format
    items = b"".join(b"I" + struct.pack("<I", len(raw)) + raw for raw in keys)
    value = _wire_format.MAGIC + b"S" + struct.pack("<I", len(keys)) + items
    send(_wire_format.encode({"kind": "ok", "value": value, "type": "builtins.set"}))
"""
CALLER = """
from opto.runtime import SandboxError, SubprocessPolicy

policy = SubprocessPolicy(wall_time=5, cpu_time=3, memory="512MB", echo_output=False)
try:
    policy.load(CODE, "f")(*ARGUMENTS)
    print("returned a value")
except SandboxError as error:
    print(type(error).__name__, str(error)[:300])
"""


def call_in_a_separate_caller(code: str, *arguments) -> str:
    """Run the sandboxed call from a separate Python process, so that a crash of the caller
    (which is what a forged answer used to cause) fails this test instead of ending it."""
    program = f"CODE = {WRITE_ANSWER + code!r}\nARGUMENTS = {arguments!r}\n" + CALLER
    finished = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, f"the caller died: {finished.returncode} {finished.stderr}"
    return finished.stdout.strip()


def test_a_forged_pickle_nested_a_million_deep_does_not_crash_the_caller():
    outcome = call_in_a_separate_caller(DEEP_PICKLE)
    assert outcome.startswith("SandboxCrashError") and "unreadable answer" in outcome


def test_an_answer_nested_a_million_deep_is_refused():
    outcome = call_in_a_separate_caller(DEEP_ANSWER)
    assert outcome.startswith("TransferError") and "nested more than 100 levels" in outcome


@pytest.mark.parametrize("form", ["pickle", "answer format"])
def test_keys_that_all_hash_alike_are_refused_without_quadratic_work(sandbox, form):
    function = sandbox.load(WRITE_ANSWER + textwrap.dedent(COLLIDING), "f")
    error_type = SandboxCrashError if form == "pickle" else TransferError
    with pytest.raises(error_type, match=r"unreadable answer|same hash"):
        function(form)


def test_a_child_that_closes_its_answer_channel_is_reported_as_such(sandbox):
    code = "import os, time\ndef f():\n    os.close(3)\n    time.sleep(1.5)\n    return 1\n"
    with pytest.raises(SandboxCrashError) as caught:
        sandbox.load(code, "f")()
    message = str(caught.value)
    assert "closed the channel its result is sent back on" in message
    assert "SIGKILL" not in message and "out-of-memory" not in message


RAISED_WITH_HUGE_ARGS = """
import struct, _wire_format

def f():  # a forged error report whose args take seconds to decode
    count = 7_000_000
    args = _wire_format.MAGIC + b"t" + struct.pack("<I", count) + (b"i" + bytes(8)) * count
    send(_wire_format.encode({
        "kind": "raised", "type_module": "builtins", "type_name": "ValueError",
        "message": "forged", "traceback": "", "args": args,
    }))
"""


def test_a_forged_error_report_is_decoded_within_the_wall_clock_limit():
    # the args of a reported exception are decoded under the call's deadline like a result:
    # otherwise 60 MB of them hold the caller seconds past wall_time
    policy = SubprocessPolicy(wall_time=1, cpu_time=1, memory="512MB", echo_output=False)
    with pytest.raises(TransferError, match="within the wall-clock limit"):
        policy.load(WRITE_ANSWER + textwrap.dedent(RAISED_WITH_HUGE_ARGS), "f")()
