"""Kernel-level confinement of the sandbox child process (stdlib only; runs in the child).

These are the layers that hold even against code that defeats Python-level checks:
resource limits, Linux user/network/IPC/mount namespaces (with a size-limited tmpfs as the
working directory), Landlock (filesystem writes) and a seccomp filter (no fork, exec, sockets
or signals to other processes). Each layer is applied if the
platform offers it; ``apply`` reports which ones took effect so the parent can tell the truth.
"""

import os
import struct
import sys

# Layer names, shared with the parent (keep in sync with opto.runtime.sandbox).
LIMITS = "limits"
NAMESPACES = "namespaces"
LANDLOCK = "landlock"
SECCOMP = "seccomp"

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE = 2, 4, 0x4000, 1 << 18
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def apply(config: dict) -> dict[str, str]:
    """Confine this process as ``config`` asks; return {layer: "on" | reason it is off}."""
    disabled = set(config.get("disable_layers", ()))
    status: dict[str, str] = {}
    libc = _libc() if sys.platform.startswith("linux") else None
    if NAMESPACES in disabled:
        status[NAMESPACES] = "disabled by configuration"
    elif libc is None:
        status[NAMESPACES] = "needs Linux"
    else:
        status[NAMESPACES] = _enter_namespaces(libc, config)
    in_user_namespace = (
        status[NAMESPACES].startswith("on") and "no user namespace" not in status[NAMESPACES]
    )
    status[LIMITS] = _apply_limits(config, namespaced=in_user_namespace)
    if libc is not None and (LANDLOCK not in disabled or SECCOMP not in disabled):
        _prctl(libc, _PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if LANDLOCK in disabled:
        status[LANDLOCK] = "disabled by configuration"
    elif libc is None:
        status[LANDLOCK] = "needs Linux"
    else:
        status[LANDLOCK] = _restrict_filesystem(libc, config["work_dir"])
    if SECCOMP in disabled:
        status[SECCOMP] = "disabled by configuration"
    elif libc is None:
        status[SECCOMP] = "needs Linux"
    else:
        status[SECCOMP] = _install_seccomp(libc)
    return status


def _libc():
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _syscall(libc, number: int, *args) -> int:
    """Call ``syscall(2)`` passing every integer as a C long (it is variadic)."""
    import ctypes

    converted = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    return libc.syscall(ctypes.c_long(number), *converted)


def _prctl(libc, *args) -> int:
    import ctypes

    return libc.prctl(*[ctypes.c_ulong(a) if isinstance(a, int) else a for a in args])


def _errno_text() -> str:
    import ctypes

    code = ctypes.get_errno()
    return f"{os.strerror(code)} (errno {code})"


# --- resource limits -------------------------------------------------------------------------


def _apply_limits(config: dict, namespaced: bool) -> str:
    try:
        import resource
    except ImportError:
        return "the resource module is unavailable on this platform"
    wanted = [
        ("RLIMIT_CORE", 0, 0),
        ("RLIMIT_CPU", config.get("cpu_time"), 1),
        ("RLIMIT_AS", config.get("memory"), 0),
        ("RLIMIT_FSIZE", config.get("file_size"), 0),
        ("RLIMIT_NOFILE", config.get("open_files"), 0),
        ("RLIMIT_NPROC", _process_budget(config.get("max_processes"), namespaced), 0),
    ]
    missing = []
    for name, value, hard_slack in wanted:
        if value is None:
            continue
        which = getattr(resource, name, None)
        if which is None:
            missing.append(name)
            continue
        soft = int(value)
        _, current_hard = resource.getrlimit(which)
        hard = soft + hard_slack
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError) as exc:
            missing.append(f"{name} ({exc})")
    if missing:
        return "partial: not set " + ", ".join(missing)
    if os.getuid() == 0 and config.get("max_processes") is not None:
        return "on (Linux does not apply RLIMIT_NPROC to uid 0; seccomp stops new processes)"
    return "on"


def _process_budget(max_processes, namespaced: bool):
    """RLIMIT_NPROC counts every task of the user: add the ones already running."""
    if max_processes is None:
        return None
    if namespaced or os.getuid() == 0 or not sys.platform.startswith("linux"):
        return max_processes  # (uid 0 is exempt from the limit anyway)
    return max_processes + _count_user_tasks(os.getuid())


def _count_user_tasks(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as status:
                fields = dict(
                    line.split(b":", 1) for line in status.read().splitlines() if b":" in line
                )
        except OSError:
            continue
        if int(fields.get(b"Uid", b"-1").split()[0]) == uid:
            count += int(fields.get(b"Threads", b"1").strip() or 1)
    return count


# --- namespaces ------------------------------------------------------------------------------


def _enter_namespaces(libc, config: dict) -> str:
    """Fresh user, network, IPC and mount namespaces: no network interface exists (not even
    loopback), and the working directory becomes a size-limited tmpfs, which bounds disk use."""
    import ctypes

    uid, gid = os.getuid(), os.getgid()
    flags = _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWNS
    notes = []
    if libc.unshare(ctypes.c_int(_CLONE_NEWUSER | flags)) != 0:
        reason = _errno_text()
        if libc.unshare(ctypes.c_int(flags)) != 0:  # works for root without user namespaces
            return f"unavailable: unshare refused ({reason})"
        notes.append(f"no user namespace ({reason})")
    else:
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError as exc:
            return f"partial: namespaces entered but the identity mapping failed ({exc})"
    disk = _mount_work_dir(libc, config["work_dir"], config.get("work_dir_size"))
    if disk:
        notes.append(disk)
    return "on" + (f" ({'; '.join(notes)})" if notes else "")


def _mount_work_dir(libc, work_dir: str, size) -> str:
    """Put a tmpfs of ``size`` bytes over the working directory; '' on success, else why not."""
    import ctypes

    if size is None:
        return "working directory not size-limited"
    flags = ctypes.c_ulong(_MS_REC | _MS_PRIVATE)
    if libc.mount(None, b"/", None, flags, None) != 0:  # nothing propagates to the host
        return f"working directory not size-limited ({_errno_text()})"
    options = f"size={int(size)},mode=0700".encode()
    mount_flags = ctypes.c_ulong(_MS_NOSUID | _MS_NODEV)
    if libc.mount(b"tmpfs", os.fsencode(work_dir), b"tmpfs", mount_flags, options) != 0:
        return f"working directory not size-limited ({_errno_text()})"
    os.chdir(work_dir)  # the old cwd is the directory underneath the new mount
    return ""


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


# --- Landlock: writes only beneath the work directory ----------------------------------------

_LL_CREATE_RULESET, _LL_ADD_RULE, _LL_RESTRICT_SELF = 444, 445, 446
_LL_RULE_PATH_BENEATH = 1
_LL_VERSION_FLAG = 1
_FS_WRITE_FILE = 1 << 1
_FS_WRITE_RIGHTS_V1 = (
    (1 << 1)  # WRITE_FILE
    | (1 << 4)  # REMOVE_DIR
    | (1 << 5)  # REMOVE_FILE
    | (1 << 6)  # MAKE_CHAR
    | (1 << 7)  # MAKE_DIR
    | (1 << 8)  # MAKE_REG
    | (1 << 9)  # MAKE_SOCK
    | (1 << 10)  # MAKE_FIFO
    | (1 << 11)  # MAKE_BLOCK
    | (1 << 12)  # MAKE_SYM
)
_FS_REFER, _FS_TRUNCATE = 1 << 13, 1 << 14
_NET_ALL = (1 << 0) | (1 << 1)  # BIND_TCP, CONNECT_TCP
_SCOPE_ALL = (1 << 0) | (1 << 1)  # abstract unix sockets, signals


def _restrict_filesystem(libc, work_dir: str) -> str:
    abi = _syscall(libc, _LL_CREATE_RULESET, None, 0, _LL_VERSION_FLAG)
    if abi < 1:
        return f"unavailable: Landlock not supported by this kernel ({_errno_text()})"
    fs_rights = _FS_WRITE_RIGHTS_V1
    if abi >= 2:
        fs_rights |= _FS_REFER
    if abi >= 3:
        fs_rights |= _FS_TRUNCATE
    if abi >= 6:
        attr = struct.pack("=QQQ", fs_rights, _NET_ALL, _SCOPE_ALL)
    elif abi >= 4:
        attr = struct.pack("=QQ", fs_rights, _NET_ALL)
    else:
        attr = struct.pack("=Q", fs_rights)
    ruleset = _syscall(libc, _LL_CREATE_RULESET, attr, len(attr), 0)
    if ruleset < 0:
        return f"unavailable: creating a Landlock ruleset failed ({_errno_text()})"
    try:
        rules = [(work_dir, fs_rights), ("/dev/null", _FS_WRITE_FILE | (fs_rights & _FS_TRUNCATE))]
        for path, rights in rules:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = struct.pack("=Qi", rights, fd)
                if _syscall(libc, _LL_ADD_RULE, ruleset, _LL_RULE_PATH_BENEATH, rule, 0) != 0:
                    return (
                        f"unavailable: adding a Landlock rule for {path} failed ({_errno_text()})"
                    )
            finally:
                os.close(fd)
        if _syscall(libc, _LL_RESTRICT_SELF, ruleset, 0) != 0:
            return f"unavailable: enforcing Landlock failed ({_errno_text()})"
    finally:
        os.close(ruleset)
    if abi < 4:
        return f"on (Landlock ABI {abi}: no TCP or signal rules on this kernel)"
    return f"on (Landlock ABI {abi}{'' if abi >= 6 else ': no signal rules on this kernel'})"


# --- seccomp: no new processes, no programs, no sockets, no signals to others ---------------

_AUDIT_ARCH_X86_64 = 0xC000003E
_RET_KILL_PROCESS = 0x80000000
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_EPERM, _EACCES, _ENOSYS = 1, 13, 38
_CLONE_THREAD = 0x00010000
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06

# x86_64 syscall numbers.
_X86_64 = {
    "socket": 41,
    "clone": 56,
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "kill": 62,
    "ptrace": 101,
    "rt_sigqueueinfo": 129,
    "chroot": 161,
    "mount": 165,
    "umount2": 166,
    "tkill": 200,
    "tgkill": 234,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "migrate_pages": 256,
    "unshare": 272,
    "move_pages": 279,
    "rt_tgsigqueueinfo": 297,
    "perf_event_open": 298,
    "prlimit64": 302,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "bpf": 321,
    "execveat": 322,
    "userfaultfd": 323,
    "pidfd_send_signal": 424,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "pidfd_open": 434,
    "clone3": 435,
    "pidfd_getfd": 438,
}
_DENIED = (
    "fork",
    "vfork",
    "execve",
    "execveat",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_open",
    "pidfd_send_signal",
    "pidfd_getfd",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "chroot",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "move_pages",
    "migrate_pages",
    "name_to_handle_at",
    "open_by_handle_at",
    "tkill",
)
# Syscalls allowed only when their first argument names this process (or 0 = "myself").
_SELF_ONLY = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "prlimit64")


def _machine_syscalls():
    return _X86_64 if os.uname().machine in ("x86_64", "AMD64") else None


def _seccomp_program(self_pid: int) -> list[tuple[int, int, int, int]]:
    """A classic-BPF filter; every rule block ends in a return, so jumps stay short."""
    nr = _X86_64
    program = [
        (_LD_W_ABS, 0, 0, 4),  # arch
        (_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        (_RET_K, 0, 0, _RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, 0),  # syscall number
        (_JGE_K, 0, 1, 0x40000000),  # the x32 ABI would bypass these numbers
        (_RET_K, 0, 0, _RET_KILL_PROCESS),
    ]

    def rule(number: int, body: list[tuple[int, int, int, int]]) -> None:
        program.append((_JEQ_K, 0, len(body), number))
        program.extend(body)

    rule(nr["clone"], [
        (_LD_W_ABS, 0, 0, 16),  # low half of the flags argument
        (_JSET_K, 0, 1, _CLONE_THREAD),
        (_RET_K, 0, 0, _RET_ALLOW),  # a thread
        (_RET_K, 0, 0, _RET_ERRNO | _EPERM),  # a new process
    ])  # fmt: skip
    rule(nr["clone3"], [(_RET_K, 0, 0, _RET_ERRNO | _ENOSYS)])  # libc falls back to clone
    rule(nr["socket"], [(_RET_K, 0, 0, _RET_ERRNO | _EACCES)])
    for name in _SELF_ONLY:
        rule(nr[name], [
            (_LD_W_ABS, 0, 0, 16),  # low half of the first argument (a pid)
            (_JEQ_K, 2, 0, self_pid),
            (_JEQ_K, 1, 0, 0),
            (_RET_K, 0, 0, _RET_ERRNO | _EPERM),
            (_RET_K, 0, 0, _RET_ALLOW),
        ])  # fmt: skip
    for name in _DENIED:
        rule(nr[name], [(_RET_K, 0, 0, _RET_ERRNO | _EPERM)])
    program.append((_RET_K, 0, 0, _RET_ALLOW))
    return program


def _install_seccomp(libc) -> str:
    import ctypes

    if _machine_syscalls() is None:
        return "unavailable: the seccomp filter is only written for x86_64"
    program = _seccomp_program(os.getpid())
    raw = b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(raw, len(raw))

    class _Program(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

    fprog = _Program(len(program), ctypes.addressof(buffer))
    if _prctl(libc, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return f"unavailable: installing the seccomp filter failed ({_errno_text()})"
    return "on"
