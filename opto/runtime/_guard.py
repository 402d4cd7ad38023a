"""Python-level guard of the sandbox child: an audit hook (stdlib only; runs in the child).

The hook turns forbidden operations (network, new processes, writes outside the work
directory, signals to other processes, introspection that could disable the hook) into a
clear report naming the operation and the line of the generated code, then ends the process.
It never raises into the sandboxed code, so the code can neither catch the refusal nor reach
the hook's frame through a traceback.

CPython's documentation is explicit that audit hooks are not a security boundary: this layer
gives precise feedback and a second line of defence; the kernel layers in ``_confine`` are
what contain code that works around it.
"""

import os
import sys

_NEW_PROCESS = "starting another process or program"
_NETWORK = "network access"
_INTROSPECTION = "introspection that could disable the sandbox"
_ALWAYS_FORBIDDEN = {
    "os.system": _NEW_PROCESS,
    "os.exec": _NEW_PROCESS,
    "os.posix_spawn": _NEW_PROCESS,
    "os.spawn": _NEW_PROCESS,
    "os.fork": _NEW_PROCESS,
    "os.forkpty": _NEW_PROCESS,
    "os.startfile": _NEW_PROCESS,
    "subprocess.Popen": _NEW_PROCESS,
    "pty.spawn": _NEW_PROCESS,
    "socket.bind": _NETWORK,
    "socket.connect": _NETWORK,
    "socket.sendto": _NETWORK,
    "socket.sendmsg": _NETWORK,
    "socket.getaddrinfo": _NETWORK,
    "socket.gethostbyname": _NETWORK,
    "socket.gethostbyaddr": _NETWORK,
    "socket.getnameinfo": _NETWORK,
    "socket.sethostname": _NETWORK,
    "signal.pthread_kill": "sending signals",
    "resource.setrlimit": "changing resource limits",
    "resource.prlimit": "changing resource limits",
    "sys.addaudithook": _INTROSPECTION,
    "sys.settrace": _INTROSPECTION,
    "sys.setprofile": _INTROSPECTION,
    "gc.get_objects": _INTROSPECTION,
    "gc.get_referrers": _INTROSPECTION,
    "gc.get_referents": _INTROSPECTION,
    "ctypes.dlsym": "calling C functions through ctypes",
    "ctypes.call_function": "calling C functions through ctypes",
    "ctypes.cdata": "raw memory access through ctypes",
    "ctypes.string_at": "raw memory access through ctypes",
    "ctypes.wstring_at": "raw memory access through ctypes",
    "ctypes.PyObj_FromPtr": "raw memory access through ctypes",
}
# Events that write, create, remove or change files: for each path argument, its index and
# the index of its ``dir_fd`` argument (None when the event has none). A path may be a file
# descriptor (``os.chmod(fd, ...)``); both are resolved through /proc/self/fd.
_PATH_EVENTS = {
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.rename": ((0, 2), (1, 3)),
    "os.mkdir": ((0, 2),),
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.link": ((0, 2), (1, 3)),
    "os.truncate": ((0, None),),
    "os.utime": ((0, 3),),
    "os.chflags": ((0, None),),
    "os.lchflags": ((0, None),),
    "os.setxattr": ((0, None),),
    "os.removexattr": ((0, None),),
    "shutil.rmtree": ((0, None),),
    "shutil.copyfile": ((1, None),),
    "shutil.copytree": ((1, None),),
    "shutil.move": ((0, None), (1, None)),
    "shutil.unpack_archive": ((1, None),),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# fcntl commands and ioctl requests that make the kernel signal another process later.
if sys.platform.startswith("linux"):
    _SIGNAL_OWNER_COMMANDS = frozenset({8, 10, 15})  # F_SETOWN, F_SETSIG, F_SETOWN_EX
else:  # other systems number fcntl commands differently; F_SETOWN is the one they share
    import fcntl

    _SIGNAL_OWNER_COMMANDS = frozenset({fcntl.F_SETOWN} if hasattr(fcntl, "F_SETOWN") else ())
_SIGNAL_OWNER_REQUESTS = frozenset({0x8901, 0x8902, 0x5452})  # FIOSETOWN, SIOCSPGRP, FIOASYNC
_F_SETFL, _O_ASYNC = 4, getattr(os, "O_ASYNC", 0o20000)
_WATCHED = (
    frozenset(_ALWAYS_FORBIDDEN)
    | frozenset(_PATH_EVENTS)
    | {
        "open",
        "os.symlink",
        "os.kill",
        "os.killpg",
        "socket.__new__",
        "fcntl.fcntl",
        "fcntl.ioctl",
    }
)


def install(work_dir: str, report):
    """Install the hook; ``report(operation, detail, line)`` must write the report and exit.

    Returns ``name_code(filename)``, which tells the hook, once, the file name the generated
    code is compiled under (reports give the line in that file). The hook is installed before
    a warm worker knows which code it will run; later calls of ``name_code`` are ignored, so
    the code cannot relabel its own lines.
    """
    code_filenames: list[str] = []

    def name_code(filename: str, names=code_filenames) -> None:
        if not names:
            names.append(filename)

    sys.addaudithook(_make_hook(work_dir, code_filenames, report))
    return name_code


def _make_hook(work_dir: str, code_filenames: list, report):
    # Everything the hook uses is bound here, so code that replaces module attributes later
    # cannot make the hook call it. ``code_filenames`` holds at most one name, set once.
    # sys._getframe is CPython's frame accessor (inspect.currentframe is built on it).
    getcwd, getpid, getframe, exit_now = os.getcwd, os.getpid, sys._getframe, os._exit  # noqa: SLF001
    readlink = os.readlink
    root = _normalize(work_dir, "/")
    watched, always, path_events = _WATCHED, dict(_ALWAYS_FORBIDDEN), dict(_PATH_EVENTS)
    write_flags, normalize = _WRITE_FLAGS, _normalize
    owner_commands, owner_requests = _SIGNAL_OWNER_COMMANDS, _SIGNAL_OWNER_REQUESTS
    set_flags, asynchronous = _F_SETFL, _O_ASYNC
    own_pid = getpid()

    def descriptor_path(fd):
        """The absolute path an open descriptor refers to, or None (pipe, socket, unknown)."""
        if type(fd) is not int or fd < 0:
            return None
        try:
            link = readlink("/proc/self/fd/" + str(fd))
        except OSError:
            return None
        return link if type(link) is str and link.startswith("/") else None

    def resolve(path, dir_fd=None):
        """The absolute, normalised path an operation names, or None when it cannot be told."""
        if type(path) is int:
            return descriptor_path(path)
        if type(path) is bytes:
            path = path.decode("utf-8", "surrogateescape")
        if type(path) is not str:
            return None
        base = getcwd()
        if type(dir_fd) is int and dir_fd >= 0 and not path.startswith("/"):
            base = descriptor_path(dir_fd)
            if base is None:
                return None
        return normalize(path, base)

    def inside(path, dir_fd=None) -> bool:
        full = resolve(path, dir_fd)
        return full is not None and (
            full == root or full.startswith(root + "/") or full == "/dev/null"
        )

    def shown(path) -> str:
        # Never call methods of objects the code controls from inside the hook.
        if type(path) is int:
            return f"the file open as descriptor {path} ({descriptor_path(path) or 'unknown'})"
        return repr(path) if type(path) in (str, bytes) else "a path given as an object"

    def code_line():
        if not code_filenames:
            return None
        code_filename = code_filenames[0]
        frame = getframe(2)
        while frame is not None:
            if frame.f_code.co_filename == code_filename:
                return frame.f_lineno
            frame = frame.f_back
        return None

    def refuse(operation: str, detail: str) -> None:
        report(operation, detail, code_line())
        exit_now(86)

    def hook(event, args):
        if event not in watched:
            return
        try:
            if event in always:
                refuse(event, always[event])
            elif event == "open":
                path, mode, flags = args
                writing = (type(mode) is str and any(c in mode for c in "wax+")) or (
                    type(flags) is int and flags & write_flags
                )
                if writing and type(path) is not int and not inside(path):
                    refuse(event, f"writing to {shown(path)}, outside the sandbox's work directory")
            elif event == "os.symlink":
                target, link, dir_fd = args[0], args[1], args[2]
                if not inside(link, dir_fd):
                    refuse(event, f"creating a link at {shown(link)}, outside the work directory")
                link_path = resolve(link, dir_fd)
                target_text = (
                    target.decode("utf-8", "surrogateescape") if type(target) is bytes else target
                )
                if type(target_text) is not str or not inside(
                    normalize(target_text, link_path + "/..")
                ):
                    refuse(event, f"creating a link to {shown(target)}, outside the work directory")
            elif event in path_events:
                for index, dir_index in path_events[event]:
                    dir_fd = args[dir_index] if dir_index is not None else None
                    if not inside(args[index], dir_fd):
                        where = "" if dir_fd is None or dir_fd < 0 else " (relative to a dir_fd)"
                        refuse(
                            event,
                            f"changing {shown(args[index])}{where}, outside the sandbox's work "
                            "directory",
                        )
            elif event in ("os.kill", "os.killpg"):
                if args[0] not in (own_pid, 0):
                    refuse(event, "sending signals to other processes")
            elif event == "fcntl.fcntl":
                command, value = args[1], args[2]
                if command in owner_commands or (
                    command == set_flags and type(value) is int and value & asynchronous
                ):
                    refuse(event, "asking the kernel to send signals to a process (fcntl)")
            elif event == "fcntl.ioctl":
                if args[1] in owner_requests:
                    refuse(event, "asking the kernel to send signals to a process (ioctl)")
            elif event == "socket.__new__" and args[1] != 1:  # only AF_UNIX socket pairs
                refuse(event, _NETWORK)
        except BaseException:
            exit_now(87)

    return hook


def _normalize(path: str, cwd: str) -> str:
    """Absolute, lexically normalised path using only str methods (nothing replaceable)."""
    if not path.startswith("/"):
        path = cwd + "/" + path
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)
