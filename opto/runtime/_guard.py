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
# Events whose listed arguments are paths that get written, created or removed.
_PATH_EVENTS = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.rename": (0, 1),
    "os.mkdir": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.link": (0, 1),
    "os.truncate": (0,),
    "os.utime": (0,),
    "os.chflags": (0,),
    "os.lchflags": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.rmtree": (0,),
    "shutil.copyfile": (1,),
    "shutil.copytree": (1,),
    "shutil.move": (0, 1),
    "shutil.unpack_archive": (1,),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_WATCHED = (
    frozenset(_ALWAYS_FORBIDDEN)
    | frozenset(_PATH_EVENTS)
    | {
        "open",
        "os.symlink",
        "os.kill",
        "os.killpg",
        "socket.__new__",
    }
)


def install(work_dir: str, code_filename: str, report) -> None:
    """Install the hook; ``report(operation, detail, line)`` must write the report and exit."""
    sys.addaudithook(_make_hook(work_dir, code_filename, report))


def _make_hook(work_dir: str, code_filename: str, report):
    # Everything the hook uses is bound here, so code that replaces module attributes later
    # cannot make the hook call it.
    getcwd, getpid, getframe, exit_now = os.getcwd, os.getpid, sys._getframe, os._exit
    root = _normalize(work_dir, "/")
    watched, always, path_events = _WATCHED, dict(_ALWAYS_FORBIDDEN), dict(_PATH_EVENTS)
    write_flags, normalize = _WRITE_FLAGS, _normalize
    own_pid = getpid()

    def inside(path, base=None) -> bool:
        if type(path) is bytes:
            path = path.decode("utf-8", "surrogateescape")
        if type(path) is not str:
            return False
        full = normalize(path, base if base is not None else getcwd())
        return full == root or full.startswith(root + "/") or full == "/dev/null"

    def shown(path) -> str:
        # Never call methods of objects the code controls from inside the hook.
        return repr(path) if type(path) in (str, bytes) else "a path given as an object"

    def code_line():
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
                target, link = args[0], args[1]
                if not inside(link):
                    refuse(event, f"creating a link at {shown(link)}, outside the work directory")
                link_text = link.decode("utf-8", "surrogateescape") if type(link) is bytes else link
                if not inside(target, normalize(link_text + "/..", getcwd())):
                    refuse(event, f"creating a link to {shown(target)}, outside the work directory")
            elif event in path_events:
                for index in path_events[event]:
                    path = args[index]
                    if type(path) is not int and not inside(path):
                        refuse(
                            event, f"changing {shown(path)}, outside the sandbox's work directory"
                        )
            elif event in ("os.kill", "os.killpg"):
                if args[0] not in (own_pid, 0):
                    refuse(event, "sending signals to other processes")
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
