"""Run one function of generated code in a separate, limited child process (stdlib only).

trace-opt has no sandbox of its own, so its side of the suite runs generated code through this
instead: a fresh ``python -I`` child per call, in its own session and temporary directory, with
an empty environment, limits on address space, CPU time and file size, and a wall-clock
deadline after which the whole process group is killed. Arguments go in and the result comes
back as JSON; the child's answer is untrusted text, parsed and checked, never unpickled.

This is weaker than opto's ``SubprocessPolicy`` (no namespaces, Landlock, seccomp or audit hook:
the code can still read files and use the network), and is meant for a benchmark's own tasks,
not as a security boundary.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from typing import Any

MARKER = "@@quality-result@@"

CHILD = r"""
import json, sys
request = json.loads(sys.stdin.read())
namespace = {"__name__": "generated"}
try:
    exec(compile(request["code"], "<generated>", "exec"), namespace)
    function = namespace[request["function"]]
    answer = {"result": function(*request["args"])}
except BaseException as error:
    answer = {"error": type(error).__name__, "message": str(error)[:2000]}
try:
    text = json.dumps(answer)
except (TypeError, ValueError) as error:
    text = json.dumps({"error": "TypeError", "message": f"result is not JSON data: {error}"})
sys.stdout.write("\n@@quality-result@@" + text + "\n")
"""


class IsolatedCodeError(Exception):
    """The code failed: it raised, exceeded a limit, or gave no readable answer."""


def _limit(memory_bytes: int, cpu_seconds: int, file_bytes: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_isolated(
    code: str,
    function: str,
    args: list[Any],
    *,
    wall_time: float = 10.0,
    cpu_time: int = 5,
    memory_bytes: int = 1 << 30,
    output_bytes: int = 4 << 20,
) -> Any:
    """``function(*args)`` from ``code`` in a limited child; its JSON result, or an error."""
    payload = json.dumps({"code": code, "function": function, "args": list(args)})
    with tempfile.TemporaryDirectory(prefix="quality-child-") as work:
        output_path = os.path.join(work, "stdout")
        with open(output_path, "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-I", "-c", CHILD],
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.DEVNULL,
                cwd=work,
                env={"PATH": os.defpath, "HOME": work, "TMPDIR": work},
                start_new_session=True,
                preexec_fn=_limit(memory_bytes, cpu_time, output_bytes),
            )
            try:
                process.communicate(payload.encode("utf-8"), timeout=wall_time)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise IsolatedCodeError(
                    f"the code did not finish within {wall_time:g} s (it was stopped)"
                ) from None
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        with open(output_path, "rb") as output:
            text = output.read(output_bytes).decode("utf-8", errors="replace")
    return _answer(text, process.returncode)


def _answer(text: str, returncode: int) -> Any:
    lines = [line for line in text.splitlines() if line.startswith(MARKER)]
    if not lines:
        if returncode < 0:
            name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else ""
            reason = {"SIGXCPU": "it used up its CPU time", "SIGXFSZ": "it wrote too much"}.get(
                name, f"it was killed by {name or returncode}"
            )
            raise IsolatedCodeError(f"the code did not finish: {reason}")
        raise IsolatedCodeError(f"the code ended without an answer (exit status {returncode})")
    try:
        answer = json.loads(lines[-1][len(MARKER) :])
    except ValueError:
        raise IsolatedCodeError("the code's answer could not be read") from None
    if not isinstance(answer, dict):
        raise IsolatedCodeError("the code's answer could not be read")
    if "error" in answer:
        error = str(answer.get("error"))[:100]
        message = str(answer.get("message", ""))[:2000]
        if error == "MemoryError":
            message = message or "it ran out of memory"
        raise IsolatedCodeError(f"{error}: {message}")
    if "result" not in answer:
        raise IsolatedCodeError("the code's answer could not be read")
    return answer["result"]
