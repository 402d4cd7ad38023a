"""Hostile code under the sandbox policy: each attempt is stopped within its limit, reported
as a typed error whose text is usable feedback, and the caller carries on."""

import socket

import pytest

from opto.runtime import (
    CPUTimeLimitExceeded,
    ForbiddenOperationError,
    MemoryLimitExceeded,
    SandboxCrashError,
    SandboxError,
    SubprocessPolicy,
    TimeLimitExceeded,
    TransferError,
    feedback_text,
)

pytestmark = pytest.mark.usefixtures("no_leftover_processes")


@pytest.mark.parametrize("warm_workers", [0, 1])
def test_an_infinite_loop_is_stopped_by_the_cpu_limit(warm_workers):
    # A generous wall clock, so that the CPU limit trips first even on a busy machine.
    with SubprocessPolicy(
        wall_time=30.0, cpu_time=1.0, echo_output=False, warm_workers=warm_workers
    ) as policy:
        policy.warm_up()
        with pytest.raises(CPUTimeLimitExceeded) as caught:
            policy.load("def f():\n    while True:\n        pass\n", "f")()
    assert caught.value.limit == 1.0
    assert "CPU time limit of 1 s" in feedback_text(caught.value)


def test_waiting_forever_is_stopped_by_the_wall_clock(sandbox):
    with pytest.raises(TimeLimitExceeded) as caught:
        sandbox.load("import time\ndef f():\n    time.sleep(600)\n", "f")()
    assert caught.value.limit == 2.0
    assert "wall-clock time limit of 2 s" in str(caught.value)


def test_allocating_50_gb_is_stopped_by_the_memory_limit(sandbox):
    with pytest.raises(MemoryLimitExceeded) as caught:
        sandbox.load("def f():\n    block = bytearray(50 * 2**30)\n    return len(block)\n", "f")()
    assert caught.value.line == 2
    assert "memory limit of 256 MB (at line 2" in str(caught.value)


def test_growing_memory_step_by_step_is_stopped_too(sandbox):
    code = "def f():\n    chunks = []\n    while True:\n        chunks.append(bytearray(2**20))\n"
    with pytest.raises(MemoryLimitExceeded) as caught:
        sandbox.load(code, "f")()
    assert caught.value.line == 4


def test_a_fork_bomb_is_contained(sandbox):
    code = "import os\ndef f():\n    while True:\n        os.fork()\n"
    with pytest.raises(ForbiddenOperationError) as caught:
        sandbox.load(code, "f")()
    assert caught.value.line == 4
    assert "starting another process" in str(caught.value)


def test_running_a_shell_command_is_refused(sandbox):
    code = "import subprocess\ndef f():\n    return subprocess.run(['true'])\n"
    with pytest.raises(ForbiddenOperationError, match=r"subprocess\.Popen"):
        sandbox.load(code, "f")()


def test_writing_outside_the_working_directory_is_refused(sandbox, tmp_path):
    target = tmp_path / "planted.txt"
    code = "def f(path):\n    with open(path, 'w') as handle:\n        handle.write('owned')\n"
    with pytest.raises(ForbiddenOperationError) as caught:
        sandbox.load(code, "f")(str(target))
    assert not target.exists()
    assert caught.value.line == 2 and str(target) in str(caught.value)


def test_deleting_files_outside_is_refused_even_if_the_code_catches_the_error(sandbox, tmp_path):
    victim = tmp_path / "keep.txt"
    victim.write_text("precious")
    code = "import os\ndef f(path):\n    try:\n        os.remove(path)\n    except Exception:\n        return 'swallowed'\n"
    with pytest.raises(ForbiddenOperationError, match=r"os\.remove"):
        sandbox.load(code, "f")(str(victim))
    assert victim.read_text() == "precious"


def test_connecting_to_a_local_server_is_refused(sandbox):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        port = server.getsockname()[1]
        code = "import socket\ndef f(port):\n    socket.create_connection(('127.0.0.1', port), timeout=1)\n"
        with pytest.raises(ForbiddenOperationError, match="network access"):
            sandbox.load(code, "f")(port)
        with pytest.raises(TimeoutError):
            server.accept()  # nothing ever connected


def test_signalling_the_parent_is_refused(sandbox):
    code = "import os\ndef f():\n    os.kill(os.getppid(), 0)\n"
    with pytest.raises(ForbiddenOperationError, match="other processes"):
        sandbox.load(code, "f")()


def test_os_exit_is_reported_as_a_crash(sandbox):
    with pytest.raises(SandboxCrashError) as caught:
        sandbox.load("import os\ndef f():\n    os._exit(3)\n", "f")()
    assert caught.value.exit_code == 3
    assert "exited with code 3" in str(caught.value)


def test_sys_exit_is_reported_and_does_not_end_the_caller(sandbox):
    with pytest.raises(SandboxCrashError, match=r"SystemExit\(4\)"):
        sandbox.load("import sys\ndef f():\n    sys.exit(4)\n", "f")()


def test_a_segmentation_fault_is_reported_with_its_signal(sandbox):
    with pytest.raises(SandboxCrashError) as caught:
        sandbox.load("import faulthandler\ndef f():\n    faulthandler._sigsegv()\n", "f")()
    assert caught.value.signal_name.startswith("SIGSEGV")


def test_a_training_loop_keeps_the_last_good_code_and_carries_on(sandbox):
    """The pattern an optimizer follows: a failing candidate becomes feedback, the parameter
    keeps its previous value, and the run continues."""
    candidates = [
        "def score(x):\n    return x + 1\n",
        "def score(x):\n    while True:\n        pass\n",
        "def score(x):\n    return bytearray(50 * 2**30)\n",
        "import os\ndef score(x):\n    os._exit(1)\n",
        "import socket\ndef score(x):\n    socket.create_connection(('127.0.0.1', 9))\n",
        "def score(x):\n    return x * 10\n",
    ]
    current, feedback = candidates[0], []
    for candidate in candidates:
        try:
            value = sandbox.load(candidate, "score")(4)
        except SandboxError as error:
            feedback.append(feedback_text(error))
            continue
        current = candidate
        feedback.append(f"ok: {value}")
    assert current == candidates[-1]
    assert feedback[0] == "ok: 5" and feedback[-1] == "ok: 40"
    # The loop meets the CPU limit, or the wall clock first when the machine is busy.
    assert "CPU time limit" in feedback[1] or "wall-clock time limit" in feedback[1]
    assert "memory limit" in feedback[2] and "exited with code 1" in feedback[3]
    assert "network" in feedback[4]


def test_nothing_is_left_behind(sandbox, private_tmp):
    assert sandbox.load("def f():\n    open('junk', 'w').write('x' * 1000)\n", "f")() is None
    with pytest.raises(SandboxCrashError):
        sandbox.load("import os\ndef f():\n    os.makedirs('a/b')\n    os._exit(1)\n", "f")()
    sandbox.close()  # warm children waiting for calls have working directories of their own
    assert list(private_tmp.iterdir()) == []


FORGE = """
import os, pickle

class Exploit:
    def __reduce__(self):
        return (os.system, ("touch " + MARKER,))

def f(kind):
    import _wire_format  # the child's own encoder, which the code can reach and misuse
    if kind == "exploit":
        value = _wire_format.encode(Exploit())
        message = {"kind": "ok", "value": value, "type": "builtins.int"}
    else:
        message = {"kind": "forbidden", "operation": ["not", "text"], "detail": 1}
    answer = pickle.dumps(message) if kind == "pickle" else _wire_format.encode(message)
    os.write(3, len(answer).to_bytes(8, "little") + answer)  # the child's answer channel
    os._exit(0)
"""


def test_a_forged_answer_cannot_run_code_in_the_caller(sandbox, tmp_path):
    marker = tmp_path / "exploited"
    function = sandbox.load(FORGE, "f", {"MARKER": str(marker)})
    with pytest.raises(TransferError, match=r"(posix|nt)\.system"):
        function("exploit")
    with pytest.raises(SandboxCrashError, match="unreadable answer"):
        function("pickle")  # answers are never unpickled
    assert not marker.exists()
    with pytest.raises(SandboxCrashError, match="malformed report"):
        function("malformed")


@pytest.mark.parametrize(
    ("statement", "fragment"),
    [
        ("os.symlink('/etc', 'etc')", "creating a link to '/etc'"),
        ("os.link(OUTSIDE, 'copy')", "changing"),
        ("os.rename('mine', OUTSIDE + '.moved')", "changing"),
        ("os.mkdir('../escape')", "changing"),
        ("os.chmod(OUTSIDE, 0o777)", "changing"),
    ],
)
def test_links_renames_and_changes_that_reach_outside_are_refused(
    sandbox, tmp_path, statement, fragment
):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    code = f"import os\ndef f():\n    open('mine', 'w').close()\n    {statement}\n"
    with pytest.raises(ForbiddenOperationError, match=fragment) as caught:
        sandbox.load(code, "f", {"OUTSIDE": str(outside)})()
    assert caught.value.line == 4
    assert outside.read_text() == "keep" and oct(outside.stat().st_mode)[-3:] != "777"
    sandbox.close()  # warm children waiting for calls have working directories of their own
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside.txt"]
