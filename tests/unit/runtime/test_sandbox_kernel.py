"""Operations the kernel layers refuse besides writes, processes and the network: changing
file metadata through descriptors and dir_fd, having the kernel signal another process,
memory outside the memory limit, scheduling other processes, and more tasks than
``max_processes`` (also for root). Each is tried with every layer on (the audit hook reports
it) and with seccomp alone (the kernel refuses it even when the Python-level hook is gone)."""

import os
import subprocess
import sys

import pytest

from opto.runtime import LAYERS, ForbiddenOperationError, SubprocessPolicy

pytestmark = pytest.mark.usefixtures("no_leftover_processes")


def policy(keep: tuple[str, ...] | None = None, **settings) -> SubprocessPolicy:
    """Every layer (None), or only ``keep`` plus the resource limits."""
    off = () if keep is None else tuple(n for n in LAYERS if n not in (*keep, "limits"))
    settings = {"wall_time": 5.0, "cpu_time": 3.0, "memory": "256MB", **settings}
    return SubprocessPolicy(disable_layers=off, echo_output=False, **settings)


def require(*layers: str) -> None:
    states = policy(layers).probe()
    for layer in layers:
        if not states[layer].startswith("on"):
            pytest.skip(f"this system does not provide the {layer} layer: {states[layer]}")


CONFIGURATIONS = {"every layer": None, "seccomp alone": ("seccomp",)}


@pytest.fixture(params=list(CONFIGURATIONS))
def confined(request) -> SubprocessPolicy:
    keep = CONFIGURATIONS[request.param]
    require(*(keep or ("seccomp", "audit_hook")))
    return policy(keep)


@pytest.fixture
def victim():
    """A process of this user, in a process group of its own, that the code must not touch."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    yield process
    process.kill()
    process.wait()


def run(sandbox: SubprocessPolicy, body: str, **names):
    code = "import os, fcntl, signal, struct\ndef f():\n" + "".join(
        f"    {line}\n" for line in body.splitlines()
    )
    return sandbox.load(code, "f", names)()


# --- H3: file metadata through a descriptor or dir_fd ---------------------------------------

METADATA = {
    "chmod through a descriptor": "os.chmod(os.open(TARGET, os.O_RDONLY), 0o6777)",
    "chmod through dir_fd": "os.chmod(NAME, 0o6777, dir_fd=os.open(FOLDER, os.O_RDONLY))",
    "utime through a descriptor": "os.utime(os.open(TARGET, os.O_RDONLY), (1, 1))",
    "utime through dir_fd": "os.utime(NAME, (1, 1), dir_fd=os.open(FOLDER, os.O_RDONLY))",
    "chown through a descriptor": "os.chown(os.open(TARGET, os.O_RDONLY), 4321, 4321)",
    "setxattr through a descriptor": "os.setxattr(os.open(TARGET, os.O_RDONLY), 'user.x', b'1')",
    "writing through dir_fd": (
        "os.write(os.open(NAME, os.O_WRONLY | os.O_TRUNC, dir_fd=os.open(FOLDER, os.O_RDONLY)),"
        " b'x')"
    ),
}
# Python's audit event for os.open carries no dir_fd: only the kernel sees this one.
KERNEL_ONLY = {"writing through dir_fd"}


def _file_state(path) -> tuple:
    status = os.stat(path)
    attributes = os.listxattr(path) if hasattr(os, "listxattr") else []
    return status.st_mode, status.st_mtime_ns, status.st_uid, attributes, path.read_bytes()


@pytest.mark.parametrize("attempt", list(METADATA))
def test_metadata_of_files_outside_cannot_be_changed(confined, tmp_path, attempt):
    target = tmp_path / "outside.txt"
    target.write_text("keep")
    os.chmod(target, 0o600)
    if "setxattr" in attempt:
        try:
            os.setxattr(tmp_path, "user.probe", b"1")
        except (OSError, AttributeError) as error:
            pytest.skip(f"this filesystem has no user extended attributes: {error}")
    before = _file_state(target)
    names = {"TARGET": str(target), "FOLDER": str(tmp_path), "NAME": target.name}
    with pytest.raises(PermissionError) as caught:
        run(confined, METADATA[attempt], **names)
    if confined.disable_layers or attempt in KERNEL_ONLY:  # the kernel's answer: catchable
        assert not isinstance(caught.value, ForbiddenOperationError)
    else:
        assert isinstance(caught.value, ForbiddenOperationError)
        assert "outside the sandbox's work directory" in str(caught.value)
    assert _file_state(target) == before


def test_metadata_changes_are_refused_inside_the_working_directory_too(confined):
    body = "open('mine', 'w').close()\ntry:\n    os.chmod('mine', 0o755)\nexcept PermissionError as e:\n    return e.errno"
    assert run(confined, body) == 1  # EPERM: the code can catch it and carry on


# --- H6: asking the kernel to signal another process ----------------------------------------

SIGNAL_OWNER = {
    "F_SETOWN": "fcntl.fcntl(r, fcntl.F_SETOWN, VICTIM)",
    "F_SETOWN_EX": "fcntl.fcntl(r, 15, struct.pack('ii', 1, VICTIM))",
    "F_SETSIG": "fcntl.fcntl(r, 10, signal.SIGKILL)",
    "O_ASYNC": "fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC)",
    "FIOSETOWN": "fcntl.ioctl(r, 0x8901, struct.pack('i', VICTIM))",
}


@pytest.mark.parametrize("attempt", list(SIGNAL_OWNER))
def test_the_kernel_is_never_asked_to_signal_another_process(confined, victim, attempt):
    body = f"r, w = os.pipe()\n{SIGNAL_OWNER[attempt]}"
    with pytest.raises(PermissionError):
        run(confined, body, VICTIM=victim.pid)


def test_sigkill_through_o_async_does_not_reach_another_process(victim):
    require("seccomp")
    attack = (
        "r, w = os.pipe()\n"
        "fcntl.fcntl(r, fcntl.F_SETOWN, VICTIM)\n"
        "fcntl.fcntl(r, 10, signal.SIGKILL)\n"  # F_SETSIG
        "fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC)\n"
        "os.write(w, b'x')"
    )
    with pytest.raises(PermissionError):
        run(policy(("seccomp",)), attack, VICTIM=victim.pid)
    assert victim.poll() is None  # still running


# --- M2: memory outside the memory limit ----------------------------------------------------

MEMFD = (
    "fd = os.memfd_create('hoard')\n"
    "for _ in range(300):\n"
    "    os.write(fd, b'x' * 2**20)\n"
    "return os.fstat(fd).st_size"
)
SYSV_SHARED = (
    "import ctypes\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "segment = libc.shmget(0, ctypes.c_size_t(300 * 2**20), 0o1600)\n"
    "if segment >= 0:\n"
    "    libc.shmctl(segment, 0, None)  # IPC_RMID\n"
    "    return segment\n"
    "raise PermissionError(ctypes.get_errno(), 'shmget')"
)


def test_memfd_cannot_hold_memory_beyond_the_limit(confined):
    with pytest.raises(PermissionError):
        run(confined, MEMFD)


SYSV_QUEUE = (
    "import ctypes\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "queue = libc.msgget(0, 0o1600)  # IPC_PRIVATE, IPC_CREAT\n"
    "if queue >= 0:\n"
    "    libc.msgctl(queue, 0, None)  # IPC_RMID\n"
    "    return queue\n"
    "raise PermissionError(ctypes.get_errno(), 'msgget')"
)


def test_system_v_shared_memory_is_refused_by_the_kernel():
    require("seccomp")
    with pytest.raises(PermissionError):
        run(policy(("seccomp",)), SYSV_SHARED)


def test_system_v_message_queues_are_refused_by_the_kernel():
    # a queue's messages are kernel memory the address-space limit does not count, and a
    # queue can outlive the call where there is no IPC namespace
    require("seccomp")
    with pytest.raises(PermissionError):
        run(policy(("seccomp",)), SYSV_QUEUE)


# --- M3: scheduling other processes ---------------------------------------------------------

SCHEDULING = {
    "setpriority": "os.setpriority(os.PRIO_PROCESS, VICTIM, 19)",
    "setpriority of a process group": "os.setpriority(os.PRIO_PGRP, VICTIM, 19)",
    "sched_setaffinity": "os.sched_setaffinity(VICTIM, {0})",
    "sched_setscheduler": "os.sched_setscheduler(VICTIM, os.SCHED_IDLE, os.sched_param(0))",
    "ioprio_set": (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "if libc.syscall(251, 1, VICTIM, (3 << 13)) != 0:\n"  # IOPRIO_CLASS_IDLE
        "    raise PermissionError(ctypes.get_errno(), 'ioprio_set')"
    ),
    "sched_setattr": (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "attr = struct.pack('IIQIIQQQ', 48, 5, 0, 0, 0, 0, 0, 0)  # size 48, SCHED_IDLE\n"
        "if libc.syscall(314, VICTIM, ctypes.c_char_p(attr), 0) != 0:\n"
        "    raise PermissionError(ctypes.get_errno(), 'sched_setattr')"
    ),
}


def _schedule_of(pid: int) -> tuple:
    return (
        os.getpriority(os.PRIO_PROCESS, pid),
        os.sched_getaffinity(pid),
        os.sched_getscheduler(pid),
    )


@pytest.mark.parametrize("attempt", list(SCHEDULING))
def test_other_processes_cannot_be_reniced_pinned_or_idled(victim, attempt):
    require("seccomp")
    # ctypes runs without the audit hook, which would stop ctypes itself first
    sandbox = policy(("seccomp",)) if "ctypes" in SCHEDULING[attempt] else policy()
    before = _schedule_of(victim.pid), os.getpriority(os.PRIO_PROCESS, os.getpid())
    with pytest.raises(PermissionError):
        run(sandbox, SCHEDULING[attempt], VICTIM=victim.pid)
    assert (_schedule_of(victim.pid), os.getpriority(os.PRIO_PROCESS, os.getpid())) == before


def test_process_madvise_is_refused_by_the_kernel():
    # it acts on another process's memory through a pidfd; denied before any argument is read,
    # so even invalid arguments give EPERM rather than EBADF
    require("seccomp")
    body = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "if libc.syscall(440, -1, None, 0, 0, 0) != 0 and ctypes.get_errno() == 1:\n"
        "    raise PermissionError(1, 'process_madvise')\n"
        "return ctypes.get_errno()"
    )
    with pytest.raises(PermissionError):
        run(policy(("seccomp",)), body)


def test_the_code_may_still_lower_its_own_priority(confined):
    body = (
        "os.setpriority(os.PRIO_PROCESS, 0, 5)\n"
        "os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
        "return os.getpriority(os.PRIO_PROCESS, 0), len(os.sched_getaffinity(0))"
    )
    assert run(confined, body) == (5, 1)


# --- L10: max_processes, also for root ------------------------------------------------------

THREADS = (
    "import threading\n"
    "threading.stack_size(1 << 16)\n"
    "release, started = threading.Event(), 0\n"
    "try:\n"
    "    for _ in range(100):\n"
    "        threading.Thread(target=release.wait).start()\n"
    "        started += 1\n"
    "except RuntimeError:\n"
    "    pass\n"
    "release.set()\n"
    "return started"
)


@pytest.mark.parametrize("keep", [None, ()], ids=["every layer", "limits alone"])
def test_max_processes_bounds_the_threads_even_for_root(keep):
    if keep == () and os.getuid() != 0:
        pytest.skip(
            "without a user namespace, RLIMIT_NPROC counts all the tasks of a non-root user, "
            "so the bound is exact only for root (the case this checks) or per namespace"
        )
    started = run(policy(keep, max_processes=8), THREADS)
    assert started == 7  # the main thread is the eighth task
    assert run(policy(keep, max_processes=64), THREADS) == 63
