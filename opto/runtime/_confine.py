"""Kernel-level confinement of the sandbox child process (stdlib only; runs in the child).

These are the layers that hold even against code that defeats Python-level checks:
resource limits, Linux user/network/IPC/mount namespaces (with a size-limited tmpfs as the
working directory), Landlock (filesystem writes) and a seccomp filter (``_seccomp``: no fork,
exec, sockets, signals to other processes, metadata changes...). Each layer is applied if the
platform offers it; ``apply`` reports each one as "on", "partial: ..." (it does not give all
that docs/runtime.md says) or why it is off, so the parent can tell the truth and refuse to
run when a layer it requires is not fully on.
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
_PR_CAPBSET_DROP = 24
_CAP_SYS_ADMIN, _CAP_SYS_RESOURCE = 21, 24
_CAPABILITY_VERSION_3 = 0x20080522
_SYS_CAPGET, _SYS_CAPSET = 125, 126
# Real uids given to sandboxes of root so that the kernel counts their tasks (see
# ``_count_tasks_apart``): this base plus the child's pid, an otherwise unused range.
_TASK_COUNT_UID_BASE = 0x78000000


def apply(config: dict) -> dict[str, str]:
    """Confine this process as ``config`` asks; return {layer: state} where the state is
    "on", "partial: <what is missing>" or the reason the layer is off."""
    disabled = set(config.get("disable_layers", ()))
    status: dict[str, str] = {}
    libc = load_libc() if sys.platform.startswith("linux") else None
    counting = ""
    if os.getuid() == 0 and config.get("max_processes") is not None:
        counting = _count_tasks_apart()
    user_namespace = False
    if NAMESPACES in disabled:
        status[NAMESPACES] = "disabled by configuration"
    elif libc is None:
        status[NAMESPACES] = "needs Linux"
    else:
        status[NAMESPACES], user_namespace = _enter_namespaces(libc, config)
    if (
        libc is not None
        and not counting
        and os.getuid() != os.geteuid() == 0
        and not user_namespace
    ):
        counting = _drop_capabilities(libc, (_CAP_SYS_ADMIN, _CAP_SYS_RESOURCE))
    status[LIMITS] = _apply_limits(config, user_namespace or os.getuid() != os.geteuid())
    if counting:
        status[LIMITS] = f"partial: the process limit does not apply to root here ({counting})"
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
        import _seccomp

        status[SECCOMP] = _seccomp.install(libc, _errno_text)
    return status


def _count_tasks_apart() -> str:
    """Linux does not apply RLIMIT_NPROC to uid 0. Give this process a real uid of its own
    while its effective uid stays 0 (so it reads the same files as before): the kernel then
    counts its tasks against the limit. Seccomp stops the code from changing it back (and
    without a user namespace, ``_drop_capabilities`` removes the exemption capabilities).
    Returns '' on success, else why not."""
    try:
        os.setresuid(_TASK_COUNT_UID_BASE + os.getpid(), 0, 0)
    except (OSError, AttributeError) as error:
        return f"setresuid failed: {error}"
    return ""


def _drop_capabilities(libc, capabilities: tuple[int, ...]) -> str:
    """Remove ``capabilities`` (numbers below 32) from this process for good; '' on success."""
    import ctypes

    header = ctypes.create_string_buffer(struct.pack("=Ii", _CAPABILITY_VERSION_3, 0))
    data = ctypes.create_string_buffer(24)
    if _syscall(libc, _SYS_CAPGET, header, data) != 0:
        return f"reading capabilities failed ({_errno_text()})"
    words = list(struct.unpack("=6I", data.raw))
    mask = 0xFFFFFFFF
    for capability in capabilities:
        mask &= ~(1 << capability)
        _prctl(libc, _PR_CAPBSET_DROP, capability, 0, 0, 0)
    for index in (0, 1, 2):  # effective, permitted, inheritable of the first 32 capabilities
        words[index] &= mask
    data = ctypes.create_string_buffer(struct.pack("=6I", *words))
    if _syscall(libc, _SYS_CAPSET, header, data) != 0:
        return f"dropping capabilities failed ({_errno_text()})"
    return ""


def load_libc():
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


def _apply_limits(config: dict, counted_apart: bool) -> str:
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
        ("RLIMIT_NPROC", _process_budget(config.get("max_processes"), counted_apart), 0),
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
    return "on"


def _process_budget(max_processes, counted_apart: bool):
    """RLIMIT_NPROC counts every task of the (real) user: add the ones already running,
    unless this sandbox's tasks are counted apart (own user namespace or own uid)."""
    if max_processes is None:
        return None
    if counted_apart or not sys.platform.startswith("linux"):
        return max_processes
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


def _enter_namespaces(libc, config: dict) -> tuple[str, bool]:
    """Fresh user, network, IPC and mount namespaces: no network interface exists (not even
    loopback), the working directory becomes a size-limited tmpfs, which bounds disk use, and
    other processes are in another user namespace, so their /proc files (their environment,
    their memory) cannot be opened. Returns the state and whether a user namespace exists."""
    import ctypes

    uid, gid = os.geteuid(), os.getegid()
    flags = _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWNS
    if libc.unshare(ctypes.c_int(_CLONE_NEWUSER | flags)) != 0:
        reason = _errno_text()
        if libc.unshare(ctypes.c_int(flags)) != 0:  # works for root without user namespaces
            return f"unavailable: unshare refused ({reason})", False
        disk = _mount_work_dir(libc, config["work_dir"], config.get("work_dir_size"))
        return (
            f"partial: no user namespace ({reason}), so the environment and other /proc files "
            "of this user's other processes stay readable" + (f"; {disk}" if disk else ""),
            False,
        )
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError as exc:
        return f"partial: namespaces entered but the identity mapping failed ({exc})", True
    disk = _mount_work_dir(libc, config["work_dir"], config.get("work_dir_size"))
    if disk and config.get("work_dir_size") is not None:
        return f"partial: {disk}", True
    return "on" + (f" ({disk})" if disk else ""), True


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
    if abi < 3:  # truncation became a right of its own in ABI 3 (Linux 6.2)
        return (
            f"partial: Landlock ABI {abi} cannot stop truncating files outside the working "
            "directory (Linux 6.2 or later can)"
        )
    if abi < 4:
        return f"on (Landlock ABI {abi}: no TCP or signal rules on this kernel)"
    return f"on (Landlock ABI {abi}{'' if abi >= 6 else ': no signal rules on this kernel'})"
