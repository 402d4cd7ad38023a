"""Warm workers (children started, confined and preloaded ahead of a call, one call each) and
the bound on parallel calls. The hostile-code tests of the other modules also run with a warm
pool (the ``sandbox`` fixture); these cover what only a pool has."""

import copy
import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from opto.runtime import SandboxUnavailableError, SubprocessPolicy

from .conftest import sandbox_processes

pytestmark = pytest.mark.usefixtures("no_leftover_processes")

STATUS = """
import os, resource

def f():
    status = dict(
        line.split(':', 1) for line in open('/proc/self/status').read().splitlines() if ':' in line
    )
    limits = [resource.getrlimit(getattr(resource, name)) for name in
              ('RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_NOFILE', 'RLIMIT_CORE')]
    mounts = [line.split()[1:3] for line in open('/proc/self/mounts') if 'work' in line]
    return {
        'pid': os.getpid(),
        'seccomp': status['Seccomp'].strip(),
        'no_new_privs': status['NoNewPrivs'].strip(),
        'uid_map': open('/proc/self/uid_map').read().split(),
        'limits': limits,
        'work_is_tmpfs': any(kind == 'tmpfs' for _, kind in mounts),
        'network': sorted(os.listdir('/sys/class/net')),
    }
"""


def settings(**extra):
    return {"wall_time": 5.0, "cpu_time": 2.0, "memory": "256MB", "echo_output": False, **extra}


@pytest.fixture
def confinable(layers_missing_here):
    if layers_missing_here:
        pytest.skip(f"the default sandbox refuses to run on this system: {layers_missing_here}")


@pytest.fixture
def warm(confinable):
    """A warm policy with one child waiting."""
    with SubprocessPolicy(**settings(warm_workers=1)) as policy:
        assert policy.warm_up()
        yield policy


def test_a_warm_child_was_started_before_the_call_and_is_confined_like_a_cold_one(warm):
    waiting = {process.pid for process in sandbox_processes()}
    seen = warm.load(STATUS, "f")()
    assert seen.pop("pid") in waiting  # the call ran in a child that was already waiting
    cold = SubprocessPolicy(**settings()).load(STATUS, "f")()
    cold.pop("pid")
    assert seen == cold
    assert seen["seccomp"] == "2" and seen["no_new_privs"] == "1" and seen["work_is_tmpfs"]


def test_a_forked_child_keeps_no_descriptor_of_the_fork_server(warm):
    code = (
        "import os\ndef f():\n    found = []\n    for n in os.listdir('/proc/self/fd'):\n"
        "        try:\n            found.append(os.readlink('/proc/self/fd/' + n))\n"
        "        except OSError:\n            pass  # the descriptor listdir used\n"
        "    return sorted(found)\n"
    )
    warm_fds = warm.load(code, "f")()
    cold_fds = SubprocessPolicy(**settings()).load(code, "f")()
    assert not any(target.startswith("socket:") for target in warm_fds)
    assert len(warm_fds) == len(cold_fds)  # stdin, the answer channel, the output file (twice)...


def test_each_warm_child_serves_one_call(warm):
    code = (
        "import os\nCALLS = []\ndef f():\n    CALLS.append(1)\n    return os.getpid(), len(CALLS)\n"
    )
    function = warm.load(code, "f")
    results = [function() for _ in range(4)]
    assert [count for _, count in results] == [1, 1, 1, 1]
    assert len({pid for pid, _ in results}) == 4


def test_preloaded_modules_are_imported_before_the_call(confinable):
    code = "import sys\ndef f():\n    return 'fractions' in sys.modules\n"
    with SubprocessPolicy(**settings(warm_workers=1, preload=("fractions",))) as policy:
        assert policy.warm_up()
        assert policy.load(code, "f")() is True
    assert SubprocessPolicy(**settings()).load(code, "f")() is False


def test_preloaded_modules_are_imported_once_by_the_fork_server(confinable, tmp_path, monkeypatch):
    """``preload`` names trusted modules: the fork server imports them once, outside the
    sandbox like the program's own imports, and every child it forks has them already."""
    log = tmp_path / "imports.log"
    (tmp_path / "logs_its_import.py").write_text(
        f"import os\nopen({str(log)!r}, 'a').write(str(os.getpid()) + '\\n')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    code = "import os, sys\ndef f():\n    return os.getpid(), 'logs_its_import' in sys.modules\n"
    with SubprocessPolicy(**settings(warm_workers=2, preload=("logs_its_import",))) as policy:
        assert policy.warm_up()
        function = policy.load(code, "f")
        seen = [function() for _ in range(3)]
    assert all(preloaded for _, preloaded in seen)
    importers = log.read_text().split()
    assert len(importers) == 1 and int(importers[0]) not in {pid for pid, _ in seen}


def test_a_preload_that_starts_threads_makes_children_start_anew_and_import_it_confined(
    confinable, tmp_path, monkeypatch
):
    """Forking a process with other threads is unsafe: the fork server refuses, and each
    child is then a new interpreter that imports ``preload`` after confining itself (so a
    write outside at import time is refused there, and that child is not used)."""
    outside = tmp_path / "written-at-import"
    (tmp_path / "threaded_on_import.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
    )
    (tmp_path / "writes_on_import.py").write_text(f"open({str(outside)!r}, 'w').write('x')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code = "import sys\ndef f():\n    return 'threaded_on_import' in sys.modules\n"
    with SubprocessPolicy(**settings(warm_workers=1, preload=("threaded_on_import",))) as policy:
        assert policy.warm_up()
        assert policy.load(code, "f")() is True
    both = ("threaded_on_import", "writes_on_import")  # the server stops after the first
    with SubprocessPolicy(**settings(warm_workers=1, preload=both)) as policy:
        assert policy.warm_up(timeout=10) is False  # each child's import is refused
        assert policy.load(code, "f")() is False  # a cold child, which preloads nothing
    assert not outside.exists()


def test_a_warm_child_started_with_another_sys_path_is_not_used(warm, tmp_path, monkeypatch):
    (tmp_path / "helper_for_pool.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # after the warm child started
    code = "import helper_for_pool\ndef f():\n    return helper_for_pool.VALUE\n"
    assert warm.load(code, "f")() == 42


def test_a_policy_that_cannot_confine_keeps_refusing_and_stops_starting_children(confinable):
    refusing = SubprocessPolicy(
        **settings(warm_workers=2, require=("seccomp",), disable_layers=("seccomp",))
    )
    with refusing:
        assert refusing.warm_up(timeout=10) is False
        for _ in range(4):
            with pytest.raises(SandboxUnavailableError, match="seccomp"):
                refusing.load("def f():\n    return 1\n", "f")()
        time.sleep(0.2)
        assert sandbox_processes() == []  # no child waits, none is being started


def test_max_parallel_bounds_the_calls_running_at_once(confinable):
    code = "import time\ndef f():\n    start = time.monotonic()\n    time.sleep(0.3)\n    return start, time.monotonic()\n"
    for bound, policy_settings in [(1, {}), (2, {"warm_workers": 2})]:
        with SubprocessPolicy(**settings(max_parallel=bound, **policy_settings)) as policy:
            function = policy.load(code, "f")
            spans: list[tuple[float, float]] = []

            def call(function=function, spans=spans) -> None:
                spans.append(function())

            threads = [threading.Thread(target=call) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len(spans) == 4
            for start, _ in spans:
                running = sum(1 for other_start, end in spans if other_start <= start < end)
                assert running <= bound


def test_close_ends_the_waiting_children_and_removes_their_directories(confinable, private_tmp):
    policy = SubprocessPolicy(**settings(warm_workers=3))
    assert policy.warm_up()
    # three children and the fork server they were forked from, each with its directory
    assert len(sandbox_processes()) == 4 and len(list(private_tmp.iterdir())) == 4
    policy.close()
    assert sandbox_processes() == [] and list(private_tmp.iterdir()) == []
    assert policy.load("def f():\n    return 1\n", "f")() == 1  # a later call starts them again
    policy.close()


def test_a_collected_policy_ends_its_children(confinable, private_tmp):
    policy = SubprocessPolicy(**settings(warm_workers=2))
    assert policy.warm_up()
    del policy
    deadline = time.monotonic() + 5
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes() == [] and list(private_tmp.iterdir()) == []


PROGRAM = """
import os, sys, tempfile
tempfile.tempdir = sys.argv[1]
from opto.runtime import SubprocessPolicy
policy = SubprocessPolicy(wall_time=5, echo_output=False, warm_workers=2)
assert policy.warm_up()
print(policy.load("def f():\\n    return 5\\n", "f")(), flush=True)
assert policy.warm_up()
if sys.argv[2] == "crash":
    print("ready", flush=True)
    import time
    time.sleep(60)
"""


def _descendants_of(pid: int) -> list[int]:
    return [child.pid for child in psutil.Process(pid).children(recursive=True)]


def test_no_child_or_directory_outlives_the_interpreter(confinable, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path), "exit"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["5"]
    assert list(tmp_path.iterdir()) == []
    assert sandbox_processes() == []


def test_children_end_by_themselves_when_their_program_is_killed(confinable, tmp_path):
    program = subprocess.Popen(
        [sys.executable, "-c", PROGRAM, str(tmp_path), "crash"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert program.stdout.readline().split() == ["5"]
        assert program.stdout.readline().strip() == "ready"
        waiting = _descendants_of(program.pid)
        assert len(waiting) >= 3  # the fork server, two waiting children (and the used one
        # until the clean-up thread has reaped it)
    finally:
        os.kill(program.pid, signal.SIGKILL)
        program.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(psutil.pid_exists(pid) for pid in waiting):
        time.sleep(0.05)
    alive = [pid for pid in waiting if psutil.pid_exists(pid)]
    assert alive == []  # the server ends at the end of its input, its children with it
    for entry in tmp_path.iterdir():  # killed without clean-up: only empty directories remain
        assert sorted(p.name for p in entry.iterdir()) in ([], ["output", "work"])
        assert all(p.stat().st_size == 0 or p.is_dir() for p in entry.iterdir())


def test_a_forked_process_does_not_touch_the_parents_children(warm):
    function = warm.load("import os\ndef f():\n    return os.getpid()\n", "f")
    waiting = {process.pid for process in sandbox_processes()}
    pid = os.fork()
    if pid == 0:  # the forked copy: its calls start children of its own
        try:
            os._exit(0 if function() not in waiting else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert function() in waiting  # the parent's waiting child was left alone

    def strangers() -> list[int]:
        found = [process.pid for process in sandbox_processes()]
        ours = set(_descendants_of(os.getpid()))  # after the listing: it covers every one
        return [pid for pid in found if pid not in ours]

    deadline = time.monotonic() + 10  # the copy's fork server ends at the end of its input
    while strangers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert strangers() == []


def test_policies_with_a_pool_copy_and_pickle_by_their_settings():
    policy = SubprocessPolicy(**settings(warm_workers=2, preload=("json",), max_parallel=3))
    assert copy.copy(policy) is policy and copy.deepcopy(policy) is policy
    clone = pickle.loads(pickle.dumps(policy))
    assert (clone.warm_workers, clone.preload, clone.max_parallel) == (2, ("json",), 3)
    assert (clone.memory, clone.require) == (policy.memory, policy.require)


def test_invalid_pool_settings_are_refused_clearly():
    with pytest.raises(ValueError, match="warm_workers"):
        SubprocessPolicy(warm_workers=-1)
    with pytest.raises(ValueError, match="max_parallel"):
        SubprocessPolicy(max_parallel=0)
    with pytest.raises(ValueError, match="preload"):
        SubprocessPolicy(preload="numpy")


def test_warm_up_without_warm_workers_starts_nothing():
    policy = SubprocessPolicy(**settings())
    assert policy.warm_up() is True
    assert sandbox_processes() == []
