"""The sandbox fails closed: where the system cannot confine code as docs/runtime.md says
(no user namespaces, no Landlock: many containers and older kernels), SubprocessPolicy()
refuses to run it, says which layer is missing, what that exposes and what remains, and runs
only when the caller asks for less by naming the layers it accepts."""

import os
import platform
import subprocess
import sys

import pytest

from opto.runtime import SubprocessPolicy

pytestmark = pytest.mark.usefixtures("no_leftover_processes")

# The caller first gives itself (and so the sandbox child) a seccomp filter under which
# creating a user namespace fails and Landlock does not exist, as on such systems.
WITHOUT_USER_NAMESPACES_AND_LANDLOCK = """
import ctypes, struct
LD, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
ALLOW, EPERM, ENOSYS = 0x7FFF0000, 0x00050001, 0x00050026
program = [
    (LD, 0, 0, 0),
    (JEQ, 0, 3, 272),  # unshare
    (LD, 0, 0, 16),
    (JSET, 0, 1, 0x10000000),  # CLONE_NEWUSER
    (RET, 0, 0, EPERM),
    (JEQ, 0, 1, 444),  # landlock_create_ruleset
    (RET, 0, 0, ENOSYS),
    (RET, 0, 0, ALLOW),
]
raw = b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
buffer = ctypes.create_string_buffer(raw, len(raw))
class Program(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0  # no_new_privs
fprog = Program(len(program), ctypes.addressof(buffer))
assert libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0
"""
CALLER = """
from opto.runtime import SandboxError, SubprocessPolicy

code = "print('the code ran')\\ndef f():\\n    return 'ran'\\n"
for settings in ({}, {"require": ("limits", "seccomp", "audit_hook")}):
    policy = SubprocessPolicy(wall_time=5, echo_output=False, **settings)
    try:
        print("RESULT", policy.load(code, "f")())
    except SandboxError as error:
        print("REFUSED", type(error).__name__, error)
"""


def test_without_user_namespaces_and_landlock_the_default_sandbox_refuses_to_run():
    if not sys.platform.startswith("linux") or platform.machine() != "x86_64":
        pytest.skip("the simulated system is written as an x86_64 Linux seccomp filter")
    program = WITHOUT_USER_NAMESPACES_AND_LANDLOCK + CALLER
    finished = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    refused, accepted = finished.stdout.split("REFUSED", 1)[1].split("RESULT")
    assert refused.strip().startswith("SandboxUnavailableError")
    assert "- namespaces:" in refused and "- landlock:" in refused
    assert "environment (where API keys live)" in refused  # what is exposed without it
    assert "outside the working directory" in refused
    assert "What remains: the wall-clock limit and limits, seccomp, audit_hook." in refused
    assert "SubprocessPolicy(require=('limits', 'seccomp', 'audit_hook'))" in refused
    assert "the code ran" not in finished.stdout
    assert accepted.strip() == "ran"  # with less, knowingly


def test_probe_reports_the_states_even_where_the_default_would_refuse():
    states = SubprocessPolicy(disable_layers=("landlock",)).probe()
    assert states["landlock"] == "disabled by configuration"


def test_a_disabled_layer_is_not_required_but_a_named_one_is():
    assert "landlock" not in SubprocessPolicy(disable_layers=("landlock",)).require
    assert SubprocessPolicy().require == (
        "limits",
        "namespaces",
        "landlock",
        "seccomp",
        "audit_hook",
    )
    assert SubprocessPolicy(require=()).require == ()


SECRET = "sk-parent-secret-42424242"
READ_PARENT_ENVIRONMENT = """
from opto.runtime import SandboxError, SubprocessPolicy

code = "import os\\ndef f():\\n    return open(f'/proc/{os.getppid()}/environ', 'rb').read()\\n"
try:
    print(SubprocessPolicy(wall_time=5, echo_output=False).load(code, "f")())
except (OSError, SandboxError) as error:
    print(type(error).__name__)
"""


def test_the_code_cannot_read_the_environment_of_the_program_that_started_it():
    state = SubprocessPolicy().probe()["namespaces"]
    if not state.startswith("on"):
        pytest.skip(f"this system has no user namespaces for the sandbox: {state}")
    environment = {**os.environ, "OPTO_TEST_API_KEY": SECRET}
    finished = subprocess.run(
        [sys.executable, "-c", READ_PARENT_ENVIRONMENT],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )
    assert finished.returncode == 0, finished.stderr
    assert SECRET not in finished.stdout
    assert finished.stdout.strip() == "PermissionError"
