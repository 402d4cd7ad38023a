"""The seccomp filter of the sandbox child (stdlib only; runs in the child, after ``_confine``).

A classic-BPF program checked by the kernel on every system call, so it holds even against
code that gets past every Python-level check (ctypes, a C extension). It refuses, with
``EPERM`` unless noted:

- new processes (``clone`` without ``CLONE_THREAD``; ``clone3`` gets ``ENOSYS`` so libc falls
  back to ``clone``), programs (``execve``), sockets (``socket``; socket pairs stay);
- signals, ``prlimit`` and scheduling changes aimed at any process but this one
  (``kill``, ``tgkill``, ``setpriority``, ``sched_set*``, ``ioprio_set``...), and asking the
  kernel to signal another process later (``fcntl`` ``F_SETOWN``/``F_SETOWN_EX``/``F_SETSIG``,
  ``O_ASYNC``, the matching ``ioctl`` requests): Landlock scopes signals only since Linux 6.12;
- changes of file metadata, which Landlock does not govern: mode (including setuid bits),
  owner, times, extended attributes, inode flags, through a path, a descriptor or ``dir_fd``;
- opening a file for writing relative to a directory descriptor (``openat`` with a
  ``dir_fd``), which no Python-level check can see;
- memory the address-space limit does not count: ``memfd_create``, ``memfd_secret``, System V
  shared memory and message queues, larger pipe buffers;
- changing identity, capabilities or resource limits, and everything that reaches the mount
  table, other namespaces, the kernel's keyrings, BPF, io_uring, ``ptrace`` and other
  processes' memory.
"""

import os
import struct

_AUDIT_ARCH_X86_64 = 0xC000003E
_RET_KILL_PROCESS = 0x80000000
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_EPERM, _EACCES, _ENOSYS = 1, 13, 38
_DENY = _RET_ERRNO | _EPERM
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2


def _argument(index: int) -> int:
    """Offset of the low 32 bits of argument ``index`` in ``struct seccomp_data``."""
    return 16 + 8 * index


_CLONE_THREAD = 0x00010000
_AT_FDCWD = 0xFFFFFF9C  # -100 as the low 32 bits
_OPEN_WRITE_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000  # WRONLY RDWR CREAT TRUNC APPEND
_F_SETFL, _F_SETOWN, _F_SETSIG, _F_SETOWN_EX, _F_SETPIPE_SZ = 4, 8, 10, 15, 1031
_O_ASYNC = 0o20000
_PRIO_PROCESS, _IOPRIO_WHO_PROCESS = 0, 1
_DENIED_IOCTLS = (
    0x8901,  # FIOSETOWN: signal another process on I/O
    0x8902,  # SIOCSPGRP: the same for sockets
    0x5452,  # FIOASYNC: O_ASYNC
    0x5412,  # TIOCSTI: type into a terminal
    0x40086602,  # FS_IOC_SETFLAGS: inode flags (append-only, no-dump...)
    0x40046602,  # FS_IOC32_SETFLAGS
    0x40087602,  # FS_IOC_SETVERSION
    0x40047602,  # FS_IOC32_SETVERSION
    0x401C5820,  # FS_IOC_FSSETXATTR: extended inode attributes
)

# x86_64 system call numbers.
X86_64 = {
    "ioctl": 16,
    "shmget": 29,
    "socket": 41,
    "clone": 56,
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "kill": 62,
    "msgget": 68,
    "fcntl": 72,
    "chmod": 90,
    "fchmod": 91,
    "chown": 92,
    "fchown": 93,
    "lchown": 94,
    "ptrace": 101,
    "setuid": 105,
    "setgid": 106,
    "setreuid": 113,
    "setregid": 114,
    "setgroups": 116,
    "setresuid": 117,
    "setresgid": 119,
    "setfsuid": 122,
    "setfsgid": 123,
    "capset": 126,
    "rt_sigqueueinfo": 129,
    "utime": 132,
    "setpriority": 141,
    "sched_setparam": 142,
    "sched_setscheduler": 144,
    "pivot_root": 155,
    "setrlimit": 160,
    "chroot": 161,
    "mount": 165,
    "umount2": 166,
    "setxattr": 188,
    "lsetxattr": 189,
    "fsetxattr": 190,
    "removexattr": 197,
    "lremovexattr": 198,
    "fremovexattr": 199,
    "tkill": 200,
    "sched_setaffinity": 203,
    "tgkill": 234,
    "utimes": 235,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "ioprio_set": 251,
    "migrate_pages": 256,
    "openat": 257,
    "fchownat": 260,
    "futimesat": 261,
    "fchmodat": 268,
    "unshare": 272,
    "move_pages": 279,
    "utimensat": 280,
    "rt_tgsigqueueinfo": 297,
    "perf_event_open": 298,
    "prlimit64": 302,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "sched_setattr": 314,
    "memfd_create": 319,
    "bpf": 321,
    "execveat": 322,
    "userfaultfd": 323,
    "pidfd_send_signal": 424,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "pidfd_open": 434,
    "clone3": 435,
    "openat2": 437,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "mount_setattr": 442,
    "memfd_secret": 447,
    "process_mrelease": 448,
    "fchmodat2": 452,
    "setxattrat": 463,
    "removexattrat": 466,
    "open_tree_attr": 467,
    "file_setattr": 469,
}
DENIED = (
    # processes, programs, other processes' memory
    "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
    "kcmp", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "process_madvise",
    "process_mrelease", "tkill",
    # namespaces and the mount table
    "unshare", "setns", "mount", "umount2", "chroot", "pivot_root", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "open_tree_attr",
    # kernel facilities
    "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open",
    "userfaultfd", "keyctl", "add_key", "request_key", "move_pages", "migrate_pages",
    "name_to_handle_at", "open_by_handle_at",
    # file metadata
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "futimesat", "utimensat", "setxattr", "lsetxattr", "fsetxattr",
    "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "removexattrat",
    "file_setattr",
    # memory outside the address-space limit
    "memfd_create", "memfd_secret", "shmget", "msgget",
    # identity, capabilities, limits
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid",
    "setfsgid", "setgroups", "capset", "setrlimit",
)  # fmt: skip
# Allowed only when their first argument names this process (or 0, "myself").
SELF_ONLY = (
    "kill",
    "tgkill",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "sched_setaffinity",
    "sched_setscheduler",
    "sched_setparam",
    "sched_setattr",
)


def supported() -> bool:
    """Whether this machine's system call numbers are the ones written here."""
    return os.uname().machine in ("x86_64", "AMD64")


def program(self_pid: int) -> list[tuple[int, int, int, int]]:
    """The filter as ``(code, jump if true, jump if false, constant)`` instructions."""
    number = X86_64
    instructions = [
        (_LD_W_ABS, 0, 0, 4),  # arch
        (_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        (_RET_K, 0, 0, _RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, 0),  # system call number
        (_JGE_K, 0, 1, 0x40000000),  # the x32 ABI would bypass these numbers
        (_RET_K, 0, 0, _RET_KILL_PROCESS),
    ]

    def rule(name: str, body: list) -> None:
        block = _assemble(body)
        instructions.append((_JEQ_K, 0, len(block), number[name]))
        instructions.extend(block)

    def is_self(offset: int, allowed: str, denied: str) -> list:
        return [
            (_LD_W_ABS, 0, 0, offset),
            (_JEQ_K, allowed, 0, self_pid),
            (_JEQ_K, allowed, denied, 0),
        ]

    rule("clone", [(_LD_W_ABS, 0, 0, _argument(0)), (_JSET_K, "allow", "deny", _CLONE_THREAD)])
    rule("clone3", [(_RET_K, 0, 0, _RET_ERRNO | _ENOSYS)])
    rule("openat2", [(_RET_K, 0, 0, _RET_ERRNO | _ENOSYS)])  # its flags cannot be inspected
    rule("socket", [(_RET_K, 0, 0, _RET_ERRNO | _EACCES)])
    rule("openat", [
        (_LD_W_ABS, 0, 0, _argument(0)),
        (_JEQ_K, "allow", 0, _AT_FDCWD),
        (_LD_W_ABS, 0, 0, _argument(2)),
        (_JSET_K, "deny", "allow", _OPEN_WRITE_FLAGS),
    ])  # fmt: skip
    rule("fcntl", [
        (_LD_W_ABS, 0, 0, _argument(1)),
        (_JEQ_K, 0, 2, _F_SETFL),
        (_LD_W_ABS, 0, 0, _argument(2)),
        (_JSET_K, "deny", "allow", _O_ASYNC),
        *[(_JEQ_K, "deny", 0, command)
          for command in (_F_SETOWN, _F_SETOWN_EX, _F_SETSIG, _F_SETPIPE_SZ)],
    ])  # fmt: skip
    rule("ioctl", [
        (_LD_W_ABS, 0, 0, _argument(1)),
        *[(_JEQ_K, "deny", 0, request) for request in _DENIED_IOCTLS],
    ])  # fmt: skip
    rule("prlimit64", [
        (_LD_W_ABS, 0, 0, _argument(0)),
        (_JEQ_K, 1, 0, self_pid),
        (_JEQ_K, 0, "deny", 0),
        (_LD_W_ABS, 0, 0, _argument(2)),  # the new limit must be NULL: reading only
        (_JEQ_K, 0, "deny", 0),
        (_LD_W_ABS, 0, 0, _argument(2) + 4),
        (_JEQ_K, "allow", "deny", 0),
    ])  # fmt: skip
    for name, which in (("setpriority", _PRIO_PROCESS), ("ioprio_set", _IOPRIO_WHO_PROCESS)):
        rule(name, [
            (_LD_W_ABS, 0, 0, _argument(0)),
            (_JEQ_K, 0, "deny", which),
            *is_self(_argument(1), "allow", "deny"),
        ])  # fmt: skip
    for name in SELF_ONLY:
        rule(name, is_self(_argument(0), "allow", "deny"))
    for name in DENIED:
        rule(name, [(_RET_K, 0, 0, _DENY)])
    instructions.append((_RET_K, 0, 0, _RET_ALLOW))
    return instructions


def _assemble(body: list) -> list[tuple[int, int, int, int]]:
    """Resolve the labels "allow" and "deny" (two returns appended after ``body``) into
    relative jumps; a body that ends in a return of its own gets no labels."""
    if body[-1][0] == _RET_K:
        return list(body)
    end = len(body)
    targets = {"allow": end, "deny": end + 1}
    resolved = []
    for index, (code, if_true, if_false, constant) in enumerate(body):
        jumps = [
            targets[jump] - index - 1 if isinstance(jump, str) else jump
            for jump in (if_true, if_false)
        ]
        resolved.append((code, *jumps, constant))
    fallthrough = (_RET_K, 0, 0, _RET_ALLOW)
    return [*resolved, fallthrough, (_RET_K, 0, 0, _DENY)]


def install(libc, errno_text) -> str:
    """Install the filter on this process (no_new_privs must be set); return the layer state."""
    import ctypes

    if not supported():
        return "unavailable: the seccomp filter is only written for x86_64"
    instructions = program(os.getpid())
    raw = b"".join(struct.pack("=HBBI", *instruction) for instruction in instructions)
    buffer = ctypes.create_string_buffer(raw, len(raw))

    class _Program(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

    fprog = _Program(len(instructions), ctypes.addressof(buffer))
    arguments = [ctypes.c_ulong(_PR_SET_SECCOMP), ctypes.c_ulong(_SECCOMP_MODE_FILTER)]
    if libc.prctl(*arguments, ctypes.byref(fprog), ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        return f"unavailable: installing the seccomp filter failed ({errno_text()})"
    return "on"
